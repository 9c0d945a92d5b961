"""Pure rendering of a KRaft combined broker+controller node's configuration files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NodeLayout:
    """Where one node listens and keeps its data."""

    node_id: int
    broker_port: int
    controller_port: int
    dir: Path  # node folder: config, console log, logs/ and data/

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def config_path(self) -> Path:
        return self.dir / "server.properties"

    @property
    def log4j_path(self) -> Path:
        return self.dir / "log4j2.properties"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"

    @property
    def audit_log_path(self) -> Path:
        """The authorizer's decisions, allowed ones included (secured clusters only)."""
        return self.logs_dir / "authorizer.log"


def cluster_defaults(node_count: int) -> dict[str, str]:
    """Broker settings for a small test cluster on a 2-core machine.

    With 3 nodes: replication factor 3 and min ISR 2, for the internal topics and as the
    cluster default, so one broker may fail without stopping acks=all producers.
    """
    rf = str(min(3, node_count))
    min_isr = "2" if node_count >= 3 else "1"
    return {
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.partitions": "1",
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        # Tests and runs create groups and start at once; the 3 s default only delays them.
        "group.initial.rebalance.delay.ms": "0",
        # The controller writes a no-op record to the metadata log when it has written nothing
        # for this long (default 500 ms), and every broker applies it: much of an idle
        # broker's CPU (one broker, C1, 30 s idle: 2.3-2.6 % of a core at 500 ms, 1.7 % at
        # 5 s; the suite holds a dozen idle brokers at a time on 2 cores, a run two clusters).
        # It only dates the brokers' metadata lag metric, which nothing here reads; liveness
        # is the brokers' heartbeats.
        "metadata.max.idle.interval.ms": "5000",
        "auto.create.topics.enable": "false",
        "unclean.leader.election.enable": "false",
    }


def server_properties(node: NodeLayout, voters: list[NodeLayout],
                      overrides: dict[str, str], protocol: str = "PLAINTEXT") -> str:
    """server.properties for a combined node in a static-quorum KRaft cluster. protocol: the
    client and inter-broker listener's (PLAINTEXT, SSL or SASL_SSL; its settings come in
    `overrides`); the controller listener is PLAINTEXT on loopback."""
    quorum = ",".join(f"{v.node_id}@127.0.0.1:{v.controller_port}" for v in voters)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": quorum,
        "listeners": f"{protocol}://127.0.0.1:{node.broker_port},"
                     f"CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"{protocol}://127.0.0.1:{node.broker_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": protocol,
        "listener.security.protocol.map": f"{protocol}:{protocol},CONTROLLER:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        **cluster_defaults(len(voters)),
        **overrides,
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def log4j2_properties(node: NodeLayout, audit: bool = False) -> str:
    """Broker logs to logs/server.log in the node folder; noisy request logs kept at WARN.
    audit: the authorizer's every decision (DEBUG logs the allowed ones) to authorizer.log, so
    that who really logged in and did what can be read from the broker itself."""
    return file_log4j(node.logs_dir / "server.log",
                      {"request": "kafka.request.logger", "state": "state.change.logger"}) + \
        (_AUDIT_LOG4J.format(log=node.audit_log_path) if audit else "")


def file_log4j(log: Path, quiet: dict[str, str]) -> str:
    """A JVM's log4j2 properties: INFO and up to one file; the `quiet` loggers (id -> logger
    name) at WARN."""
    lines = [f"logger.{key}.name = {name}\nlogger.{key}.level = WARN\n"
             for key, name in quiet.items()]
    return _FILE_LOG4J.format(log=log) + "".join(lines)


_FILE_LOG4J = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""
_AUDIT_LOG4J = """appender.audit.type = File
appender.audit.name = audit
appender.audit.fileName = {log}
appender.audit.layout.type = PatternLayout
appender.audit.layout.pattern = %d{{UNIX_MILLIS}} %m%n
logger.audit.name = kafka.authorizer.logger
logger.audit.level = DEBUG
logger.audit.additivity = false
logger.audit.appenderRef.audit.ref = audit
"""


def jvm_options(heap_mb: int) -> list[str]:
    """Flags for a broker sharing 2 cores with its peers and the load generators."""
    return [
        f"-Xms{heap_mb // 2}m", f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-XX:CICompilerCount=2",
        "-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1",
        "-Djava.awt.headless=true",
    ]


LOCAL_TIERED_STORAGE = "org.apache.kafka.server.log.remote.storage.LocalTieredStorage"


def local_tiered_storage(remote_dir: Path) -> dict[str, str]:
    """Kafka's LocalTieredStorage as the remote tier: a directory shared by the brokers."""
    return {"remote.log.storage.manager.class.name": LOCAL_TIERED_STORAGE,
            "rsm.config.dir": str(remote_dir)}


def tiered_overrides(brokers: int, remote_storage: dict[str, str]) -> dict[str, str]:
    """Broker settings for Tiered Storage, offloading and trimming the local log every second;
    remote_storage: the remote storage manager's class and its rsm.config.* settings."""
    return {
        "remote.log.storage.system.enable": "true",
        **remote_storage,
        "remote.log.metadata.manager.listener.name": "PLAINTEXT",
        "rlmm.config.remote.log.metadata.topic.replication.factor": str(min(3, brokers)),
        "rlmm.config.remote.log.metadata.topic.num.partitions": "4",
        "remote.log.manager.task.interval.ms": "1000",
        "log.retention.check.interval.ms": "1000",
    }


# Topic settings that make a restore read the remote tier: small segments, offloaded once
# rolled, and a local copy kept for only a second. Tiered Storage refuses compacted topics, so
# the changelog is delete-retention (kept forever).
TIERED_TOPIC_CONFIGS = {"remote.storage.enable": "true", "cleanup.policy": "delete",
                        "retention.ms": "-1", "local.retention.ms": "1000",
                        "segment.bytes": "1048576"}
