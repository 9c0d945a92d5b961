"""A real Apache Kafka cluster (KRaft, combined broker+controller nodes) on loopback.

Started from the cached Maven jars with the machine's JDK. Its folder holds one sub-folder per
node (config, data, logs) and `cluster.json`, which records the pids so that another process
(`replaybench cluster down`) can stop exactly these servers, by pid.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

from replaybench.clusters import broker_metrics, health, jmx_exporter
from replaybench.clusters.artifacts import KAFKA_VERSION, find_java, kafka_artifacts, kafka_opts
from replaybench.clusters.jvm_archive import JvmArchive
from replaybench.clusters.kafka_config import NodeLayout, jvm_options, log4j2_properties, server_properties
from replaybench.clusters.ports import free_ports, require_free
from replaybench.clusters.processes import ServerProcess, read_end, tail
from replaybench.clusters.security_material import SecurityMaterial
from replaybench.errors import BrokerDied, ClusterError

STATE_FILE = "cluster.json"
_BIND_FAILURE = re.compile(r"bind to ([\d.]+:\d+): Address already in use")
# Kafka's own one-line reason for a setting it will not start with, logged at its fatal exit
_CONFIG_REFUSAL = re.compile(r"Fatal error during broker startup.*\n"
                             r"org\.apache\.kafka\.common\.config\.ConfigException: ([^\n]+)")


def new_cluster_id() -> str:
    """A Kafka Uuid string: 16 random bytes, URL-safe base64 without padding, no leading '-'."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


class LocalKafkaCluster:
    """1 or 3 (or more) combined nodes with a static controller quorum, all on 127.0.0.1."""

    def __init__(self, root: Path, brokers: int = 1, *, cache_dir: Path,
                 first_port: int | None = None, overrides: dict[str, str] | None = None,
                 heap_mb: int = 768, kafka_version: str = KAFKA_VERSION,
                 extra_classpath: tuple[str, ...] = (), broker_metrics: bool = False,
                 security: SecurityMaterial | None = None, exporter: bool = False,
                 cpus: frozenset[int] | None = None) -> None:
        if brokers < 1:
            raise ClusterError(f"brokers must be at least 1, got {brokers}")
        self.root = Path(root).resolve()
        self.cache_dir = cache_dir
        self.kafka_version = kafka_version
        self.overrides = dict(overrides or {})
        self.security = security   #: TLS or SASL_SSL listeners; None: PLAINTEXT
        self.heap_mb = heap_mb
        self.cpus = cpus   #: the cores every broker runs on (cpu_budget.py); None: any
        self.cluster_id = new_cluster_id()
        self.nodes = self._layout(brokers, first_port)
        self.processes: dict[int, ServerProcess] = {}
        self._java: str | None = None
        self._classpath: str | None = None
        self.archive: JvmArchive | None = None   #: class-data sharing (jvm_archive.py)
        self.extra_classpath = tuple(str(p) for p in extra_classpath)  #: plugins (an RSM)
        # node id -> port of its Jolokia agent (broker_metrics.py); empty: no agent
        self.metrics_ports = dict(zip((n.node_id for n in self.nodes),
                                      free_ports(brokers))) if broker_metrics else {}
        # node id -> port of its Prometheus JMX exporter (jmx_exporter.py); empty: none
        self.exporter_ports = dict(zip((n.node_id for n in self.nodes),
                                       free_ports(brokers))) if exporter else {}

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 90.0) -> LocalKafkaCluster:
        """Format every node, start them, and return once all brokers are in the metadata."""
        self._ensure_runtime()
        self._claim_root()
        try:
            for node in self.nodes:
                self._write_configs(node)
            self._format(self.nodes)
            for node in self.nodes:
                self._spawn(node)
            self.save()
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _claim_root(self) -> None:
        """Never delete what the harness did not create. A missing or empty root is used as is;
        one that holds a stopped cluster of ours (its state file) loses only that cluster's
        state file and node dirs; anything else is refused, naming the folder."""
        if not self.root.exists() or not any(self.root.iterdir()):
            return
        state_path = self.root / STATE_FILE
        if not state_path.exists():
            raise ClusterError(f"{self.root}: not empty and holds no replaybench cluster "
                               f"({STATE_FILE}); refusing to use it, pick an empty or new --dir")
        try:
            recorded = [Path(n["dir"]) for n in json.loads(state_path.read_text())["nodes"]]
        except (OSError, ValueError, KeyError, TypeError):
            raise ClusterError(f"{state_path}: unreadable cluster state; refusing to clear "
                               f"{self.root}") from None
        for node_dir in recorded:
            if node_dir.parent.resolve() == self.root.resolve() and node_dir.is_dir():
                shutil.rmtree(node_dir)
        state_path.unlink()

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every broker by pid (all at once: shutdowns overlap), SIGKILL any still
        running after timeout_s."""
        for proc in self.processes.values():
            proc.terminate()
        clean = True
        for proc in self.processes.values():
            if not proc.wait_gone(timeout_s):
                proc.kill()
                clean = False
        if self.archive is not None:   # a killed JVM wrote no whole archive
            self.archive.settle(whole=clean)
        if self.root.exists():
            self.save()

    def __enter__(self) -> LocalKafkaCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what clients need -----------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    def client_config(self) -> dict[str, str]:
        """The harness's settings: on a secured cluster, the admin principal's."""
        return {"bootstrap.servers": self.bootstrap, **self._security_config()}

    def _security_config(self) -> dict[str, str]:
        return self.security.client_config() if self.security else {}

    def node(self, node_id: int) -> NodeLayout:
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        raise ClusterError(f"no broker with id {node_id}; ids are {[n.node_id for n in self.nodes]}")

    # ---- health ----------------------------------------------------------------------------

    def raise_if_broker_died(self, expect_down: set[int] = frozenset()) -> None:
        """Raise if a broker that should run has exited: a taken port by name, else the log tail."""
        for node in self.nodes:
            proc = self.processes.get(node.node_id)
            if node.node_id in expect_down or proc is None or proc.alive():
                continue
            log = read_end(node.logs_dir / "server.log")
            bind = (_BIND_FAILURE.search(log)
                    or _BIND_FAILURE.search(read_end(node.dir / "console.log")))
            if bind:
                raise ClusterError(f"port {bind.group(1)} (broker {node.node_id}) is already in use")
            refused = _CONFIG_REFUSAL.search(log)
            if refused:   # a setting it would not start with (the remote tier's plugin's too)
                raise ClusterError(f"broker {node.node_id} refused to start: {refused.group(1)}")
            raise BrokerDied(f"broker {node.node_id} exited; last lines of its logs "
                             f"({node.logs_dir}):\n{tail(node.logs_dir / 'server.log')}")

    def wait_ready(self, timeout_s: float = 90.0, down: set[int] = frozenset()) -> None:
        """Wait until every broker not in `down` serves requests on its own port."""
        want = [n for n in self.nodes if n.node_id not in down]
        extra = self._security_config()
        health.wait_until(lambda: all(health.answers_as(n.bootstrap, n.node_id, extra=extra)
                                      for n in want),
                          timeout_s, f"brokers {[n.node_id for n in want]} to serve requests",
                          fail_fast=lambda: self.raise_if_broker_died(down))

    def wait_fenced(self, node_id: int, timeout_s: float = 30.0) -> None:
        """Wait until the controller has dropped a lost broker from the metadata (and ISRs)."""
        client = health.admin(self.bootstrap, self._security_config())
        health.wait_until(lambda: node_id not in health.live_broker_ids(client), timeout_s,
                          f"broker {node_id} to be fenced",
                          fail_fast=lambda: self.raise_if_broker_died({node_id}))

    def wait_fully_replicated(self, timeout_s: float = 60.0, topics: list[str] | None = None) -> None:
        client = health.admin(self.bootstrap, self._security_config())
        health.wait_until(lambda: not health.under_replicated(client, topics), timeout_s,
                          "every partition's ISR to be full", fail_fast=self.raise_if_broker_died)

    def metrics_endpoints(self) -> dict[str, str]:
        """Each broker's Prometheus endpoint (host:port serving /metrics), by server name."""
        return {f"broker-{n}": f"127.0.0.1:{port}" for n, port in self.exporter_ports.items()}

    def server_pids(self) -> dict[str, int]:
        """The running brokers' processes, by name (their CPU is recorded every tick)."""
        return {f"broker-{n}": p.pid for n, p in sorted(self.processes.items()) if p.alive()}

    # ---- drills ----------------------------------------------------------------------------

    def kill(self, node_id: int) -> None:
        """SIGKILL one broker: no clean shutdown, as in a crash or a lost machine."""
        self.node(node_id)
        self.processes[node_id].kill()
        self.save()

    def restart(self, node_id: int, timeout_s: float = 60.0) -> None:
        """Start a stopped or killed broker on its existing disk and wait for it to register."""
        node = self.node(node_id)
        self.processes[node_id].stop()
        self._spawn(node)
        self.save()
        self.wait_ready(timeout_s)

    def replace(self, node_id: int, timeout_s: float = 60.0) -> None:
        """Swap a broker for a new one with an empty disk and the same id: it must re-replicate.

        As with a lost machine, the new broker starts once the controller has fenced the old
        one (broker.session.timeout.ms, 9 s by default), so the ISRs have shrunk and must grow
        back through re-replication.
        """
        node = self.node(node_id)
        self.processes[node_id].kill()
        self.wait_fenced(node_id, timeout_s)
        shutil.rmtree(node.data_dir)
        self._format([node])
        self._spawn(node)
        self.save()
        self.wait_ready(timeout_s)

    def data_bytes(self, node_id: int) -> int:
        """Bytes stored in one broker's log dirs (what a replacement had to fetch back). Counts
        allocated blocks: Kafka preallocates 10 MB sparse index files per segment."""
        data = self.node(node_id).data_dir
        if not data.exists():
            return 0
        return sum(p.stat().st_blocks * 512 for p in data.rglob("*") if p.is_file())

    def local_log_start_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the lowest offset still on a broker's local disk (the base offset of
        its oldest local segment): anything below was readable only from the remote tier."""
        starts: dict[int, int] = {}
        for node in self.nodes:
            for part_dir in node.data_dir.glob(f"{topic}-*"):
                segments = [int(f.stem) for f in part_dir.glob("*.log")]
                suffix = part_dir.name[len(topic) + 1:]
                if segments and suffix.isdigit():
                    p = int(suffix)
                    starts[p] = min(starts.get(p, min(segments)), min(segments))
        return starts

    def remote_fetch_counts(self) -> dict[int, dict[str, int]]:
        """Per running broker: its RemoteFetchBytesPerSec and RemoteFetchRequestsPerSec
        counts since it started (needs broker_metrics=True)."""
        running = self.running()
        return {n: {k: broker_metrics.read_count(port, mbean)
                    for k, mbean in broker_metrics.REMOTE_FETCH.items()}
                for n, port in self.metrics_ports.items() if n in running}

    def pause(self, node_id: int) -> None:
        """SIGSTOP: the broker keeps its sockets but answers nothing, like a long GC pause."""
        self.node(node_id)
        self.processes[node_id].pause()

    def resume(self, node_id: int) -> None:
        self.node(node_id)
        self.processes[node_id].resume()

    # ---- persistence (for the CLI) ---------------------------------------------------------

    def save(self) -> None:
        state = {
            "kafka_version": self.kafka_version,
            "cluster_id": self.cluster_id,
            "bootstrap": self.bootstrap,
            "extra_classpath": list(self.extra_classpath),
            "nodes": [{"id": n.node_id, "broker_port": n.broker_port,
                       "controller_port": n.controller_port, "dir": str(n.dir),
                       "pid": self.processes[n.node_id].pid if n.node_id in self.processes else None}
                      for n in self.nodes],
        }
        tmp = self.root / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.root / STATE_FILE)

    @classmethod
    def attach(cls, root: Path, cache_dir: Path) -> LocalKafkaCluster:
        """The cluster recorded in root/cluster.json, controlled through its pids."""
        path = Path(root).resolve() / STATE_FILE
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"no cluster recorded in {path.parent} (no {STATE_FILE})") from None
        self = cls.__new__(cls)
        self.root = path.parent
        self.cache_dir = cache_dir
        self.kafka_version = state["kafka_version"]
        self.cluster_id = state["cluster_id"]
        self.overrides, self.heap_mb, self.security = {}, 768, None
        self._java, self._classpath, self.archive = None, None, None
        self.extra_classpath = tuple(state.get("extra_classpath", ()))
        self.metrics_ports, self.exporter_ports = {}, {}
        self.nodes = [NodeLayout(n["id"], n["broker_port"], n["controller_port"], Path(n["dir"]))
                      for n in state["nodes"]]
        self.processes = {n.node_id: ServerProcess(pid, str(n.config_path))
                          for n, pid in zip(self.nodes, (s["pid"] for s in state["nodes"]))
                          if pid is not None}
        return self

    def running(self) -> list[int]:
        return [i for i, p in self.processes.items() if p.alive()]

    # ---- internals -------------------------------------------------------------------------

    def _layout(self, brokers: int, first_port: int | None) -> list[NodeLayout]:
        if first_port is not None:
            broker_ports = [first_port + i for i in range(brokers)]
            for i, port in enumerate(broker_ports, start=1):
                require_free(port, f"broker {i}")
            controller_ports = free_ports(brokers)
        else:
            ports = free_ports(2 * brokers)
            broker_ports, controller_ports = ports[:brokers], ports[brokers:]
        return [NodeLayout(i, broker_ports[i - 1], controller_ports[i - 1], self.root / f"node-{i}")
                for i in range(1, brokers + 1)]

    def _write_configs(self, node: NodeLayout) -> None:
        node.logs_dir.mkdir(parents=True, exist_ok=True)
        security = self.security.broker_overrides() if self.security else {}
        node.config_path.write_text(server_properties(
            node, self.nodes, {**security, **self.overrides},
            self.security.protocol if self.security else "PLAINTEXT"))
        node.log4j_path.write_text(log4j2_properties(
            node, audit=bool(self.security and self.security.mode == "sasl_ssl")))

    def _java_argv(self, node: NodeLayout, main: str, *args: str,
                   agent: tuple[str, ...] = (), archive: Sequence[str] = ()) -> list[str]:
        return [self._java, *jvm_options(self.heap_mb), *archive, *agent,
                f"-Dlog4j2.configurationFile={node.log4j_path}", f"-Dkafka.logs.dir={node.logs_dir}",
                *kafka_opts(), "-cp", self._classpath, main, *args]

    def _format(self, nodes: list[NodeLayout]) -> None:
        """kafka-storage format, all nodes at once (each is a JVM start of ~2 s)."""
        self._ensure_runtime()
        running = [(n, subprocess.Popen(
            self._java_argv(n, "kafka.tools.StorageTool", "format", "--cluster-id", self.cluster_id,
                            "--config", str(n.config_path),
                            *(self.security.format_args() if self.security else ()),
                            archive=self.archive.use()),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)) for n in nodes]
        for node, proc in running:
            out, _ = proc.communicate()
            if proc.returncode != 0:
                last = out.strip().splitlines()[-1:] or ["(no output)"]
                raise ClusterError(f"formatting broker {node.node_id} failed: {last[0]}")

    def _ensure_runtime(self) -> None:
        """Find the JDK and the jars once, on first need (fetching them on a fresh machine)."""
        if self._classpath is None:
            self._java = find_java().path
            self._classpath = ":".join([f"{kafka_artifacts(self.kafka_version).fetch(self.cache_dir)}/*",
                                        *self.extra_classpath])
            self.archive = JvmArchive(self.cache_dir, self._java, self._classpath, "kafka")

    def _spawn(self, node: NodeLayout) -> None:
        self._ensure_runtime()
        port, exporter = self.metrics_ports.get(node.node_id), self.exporter_ports.get(node.node_id)
        agent = ((broker_metrics.agent_option(self.cache_dir, port),) if port else ()) + \
            ((jmx_exporter.agent_option(self.cache_dir, exporter),) if exporter else ())
        # A JVM with an agent refuses to start if asked to write an archive (the JDK wants a
        # diagnostic flag for that); reading one written without the agent is fine.
        with_agent = agent or any(o.startswith("-javaagent") for o in kafka_opts())
        archive = self.archive.use() if with_agent else self.archive.use_or_write()
        self.processes[node.node_id] = ServerProcess.spawn(
            self._java_argv(node, "kafka.Kafka", str(node.config_path), agent=agent,
                            archive=archive),
            marker=str(node.config_path), log_path=node.dir / "console.log", cwd=node.dir,
            cpus=self.cpus)
