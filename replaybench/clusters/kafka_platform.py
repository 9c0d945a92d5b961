"""Apache Kafka started here (KRaft, combined nodes on 127.0.0.1): on local disk (`kafka`), with
Tiered Storage on a local S3 server (`tiered`: replaybench's S3 RemoteStorageManager on
SeaweedFS, s3_plugin.py), or with Kafka's LocalTieredStorage test plugin (`tiered-local`: the
remote tier in a local folder, kept so that the two can be compared)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from replaybench.clusters import audit_log, s3_plugin, security_material, tiered_proof
from replaybench.clusters.artifacts import KAFKA_VERSION, tiered_storage_artifacts
from replaybench.clusters.broker_processes import BrokerProcesses
from replaybench.clusters.kafka_config import (
    LOCAL_TIERED_STORAGE,
    TIERED_TOPIC_CONFIGS,
    local_tiered_storage,
    tiered_overrides,
)
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.clusters.platform import (
    Capabilities,
    ClusterHandle,
    ClusterInfo,
    OpenRequest,
    Platform,
)
from replaybench.clusters.s3_server import (
    ACCESS_KEY,
    REGION,
    S3_PROCESS,
    SECRET_KEY,
    SeaweedS3Server,
)
from replaybench.clusters.security_material import SecurityMaterial

REMOTE_TIER_BUCKET = "kafka-remote-tier"
_SUMMARIES = {
    None: "Apache Kafka on local disk",
    "s3": "Apache Kafka with Tiered Storage on a local S3 server (replaybench's S3 plugin on "
          "SeaweedFS)",
    "local": "Apache Kafka with Tiered Storage in a local folder (Kafka's LocalTieredStorage "
             "test plugin)",
}


class EmbeddedKafka(Platform):
    security_modes = security_material.MODES

    def __init__(self, name: str, remote: str | None) -> None:
        """remote: where the remote tier lives, "s3" or "local"; None: no Tiered Storage."""
        self.name, self.remote = name, remote
        self.storage = "tiered" if self.tiered else "local-disk"
        self.summary = _SUMMARIES[remote]

    @property
    def tiered(self) -> bool:
        return self.remote is not None

    @contextmanager
    def open(self, request: OpenRequest, root: Path,
             note: Callable[[str], None]) -> Iterator[ClusterHandle]:
        note(f"starting embedded Kafka {KAFKA_VERSION} ({request.brokers} broker"
             f"{'s' if request.brokers > 1 else ''}{', Tiered Storage' if self.tiered else ''}"
             f"{f', {request.security}' if request.security else ''})")
        with ExitStack() as cleanup:
            security = _security(request.security, cleanup)
            s3 = _object_store(request, root, cleanup) if self.remote == "s3" else None
            # the brokers' folder must start empty: beside the S3 server's, not around it
            cluster = LocalKafkaCluster(root / "kafka" if s3 else root, request.brokers,
                                        cache_dir=request.cache_dir, security=security,
                                        exporter=request.monitor, cpus=request.cpus,
                                        **self._extra(request, root, security, s3))
            cleanup.enter_context(cluster.start())   # stopped before the S3 server under it
            yield ClusterHandle(self._info(request, cluster, root, security, s3),
                                cluster.client_config(),
                                self._capabilities(request, cluster, security, s3),
                                security=security)

    def _extra(self, request: OpenRequest, root: Path, security: SecurityMaterial | None,
               s3: SeaweedS3Server | None) -> dict[str, Any]:
        if not self.tiered:
            return {}
        extra: dict[str, Any] = {"broker_metrics": True}
        if s3 is not None:
            remote = s3_plugin.broker_settings(s3_plugin.build(request.cache_dir), _bucket(s3, root))
        else:
            remote = local_tiered_storage(root / "remote-tier")
            extra["extra_classpath"] = (f"{tiered_storage_artifacts().fetch(request.cache_dir)}/*",)
        extra["overrides"] = tiered_overrides(request.brokers, remote)
        if security:
            extra["overrides"].update(security.remote_log_metadata_overrides())
        return extra

    def _info(self, request: OpenRequest, cluster: LocalKafkaCluster, root: Path,
              security: SecurityMaterial | None, s3: SeaweedS3Server | None) -> ClusterInfo:
        extras: dict[str, Any] = {"root": str(root), "principals": sorted(security.passwords)
                                  if security and security.passwords else None}
        if self.tiered:
            extras.update(remote_storage_manager=s3_plugin.CLASS_NAME if s3 else
                          LOCAL_TIERED_STORAGE,
                          notes="Tiered Storage refuses compacted topics: the changelog is "
                                "delete-retention; tombstones stay in the log")
        if s3 is not None:
            extras.update(s3_endpoint=s3.endpoint, remote_tier_bucket=REMOTE_TIER_BUCKET,
                          object_store_server=s3.describe())
        return ClusterInfo("embedded", cluster.bootstrap, KAFKA_VERSION, storage=self.storage,
                           brokers=request.brokers, security=request.security,
                           topic_configs=TIERED_TOPIC_CONFIGS if self.tiered else None,
                           extras=extras)

    def _capabilities(self, request: OpenRequest, cluster: LocalKafkaCluster,
                      security: SecurityMaterial | None,
                      s3: SeaweedS3Server | None) -> Capabilities:
        audited = security is not None and security.mode == "sasl_ssl"
        bucket = tiered_proof.RemoteBucket(s3, REMOTE_TIER_BUCKET) if s3 else None
        return Capabilities(
            processes=BrokerProcesses(cluster, [n.node_id for n in cluster.nodes],
                                      others={S3_PROCESS: s3.process} if s3 else None),
            object_store=s3,
            server_pids=partial(_server_pids, cluster, s3),
            settle_after_seed=partial(tiered_proof.settle_after_seed, cluster,
                                      tiered=self.tiered, bucket=bucket),
            storage_proof=(lambda events: tiered_proof.storage_proof(events, cluster, bucket))
            if self.tiered else None,
            access_log=partial(_access_seen, cluster) if audited else None,
            metrics_endpoints=partial(_metrics_endpoints, cluster, s3)
            if request.monitor else None)


def _object_store(request: OpenRequest, root: Path, cleanup: ExitStack) -> SeaweedS3Server:
    """The remote tier's S3 server, started (stopped by `cleanup`) with its bucket made."""
    server = SeaweedS3Server(root / "s3", cpus=request.cpus)
    cleanup.enter_context(server.start())
    server.create_bucket(REMOTE_TIER_BUCKET)
    return server


def _bucket(s3: SeaweedS3Server, root: Path) -> s3_plugin.Bucket:
    return s3_plugin.Bucket(s3.endpoint, REMOTE_TIER_BUCKET, REGION, s3_plugin.write_credentials(
        root / "s3-credentials.properties", ACCESS_KEY, SECRET_KEY))


def _server_pids(cluster: LocalKafkaCluster, s3: SeaweedS3Server | None) -> dict[str, int]:
    pids = cluster.server_pids()
    if s3 is not None and s3.process is not None and s3.process.alive():
        pids["s3-server"] = s3.process.pid
    return pids


def _metrics_endpoints(cluster: LocalKafkaCluster, s3: SeaweedS3Server | None) -> dict[str, str]:
    return {**cluster.metrics_endpoints(), **({S3_PROCESS: s3.metrics_endpoint()} if s3 else {})}


def _security(mode: str | None, cleanup: ExitStack) -> SecurityMaterial | None:
    """The CA, certificate and users, beside the cluster's folder (which must start empty)."""
    if not mode:
        return None
    secret_dir = Path(tempfile.mkdtemp(prefix="rb-security-"))
    cleanup.callback(shutil.rmtree, secret_dir, ignore_errors=True)   # made just above
    return security_material.generate(secret_dir / "material", mode)


def _access_seen(cluster: LocalKafkaCluster, since_ns: int, until_ns: int) -> dict:
    return audit_log.read([n.audit_log_path for n in cluster.nodes], since_ns, until_ns)


LOCAL_DISK = EmbeddedKafka("kafka", remote=None)
TIERED = EmbeddedKafka("tiered", remote="s3")
TIERED_LOCAL = EmbeddedKafka("tiered-local", remote="local")
