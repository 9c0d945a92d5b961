"""Apache Kafka started here (KRaft, combined nodes on 127.0.0.1), on local disk (`kafka`) or
with Tiered Storage (`tiered`: Kafka's LocalTieredStorage as the remote tier)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from replaybench.clusters import audit_log, security_material, tiered_proof
from replaybench.clusters.artifacts import KAFKA_VERSION, tiered_storage_artifacts
from replaybench.clusters.broker_processes import BrokerProcesses
from replaybench.clusters.kafka_config import TIERED_TOPIC_CONFIGS, tiered_overrides
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.clusters.platform import (
    Capabilities,
    ClusterHandle,
    ClusterInfo,
    OpenRequest,
    Platform,
)
from replaybench.clusters.security_material import SecurityMaterial

_LOCAL_TIERED_STORAGE = "org.apache.kafka.server.log.remote.storage.LocalTieredStorage"


class EmbeddedKafka(Platform):
    security_modes = security_material.MODES

    def __init__(self, name: str, tiered: bool) -> None:
        self.name, self.tiered = name, tiered
        self.storage = "tiered" if tiered else "local-disk"
        self.summary = ("Apache Kafka with Tiered Storage (LocalTieredStorage)" if tiered else
                        "Apache Kafka on local disk")

    @contextmanager
    def open(self, request: OpenRequest, root: Path,
             note: Callable[[str], None]) -> Iterator[ClusterHandle]:
        note(f"starting embedded Kafka {KAFKA_VERSION} ({request.brokers} broker"
             f"{'s' if request.brokers > 1 else ''}{', Tiered Storage' if self.tiered else ''}"
             f"{f', {request.security}' if request.security else ''})")
        with ExitStack() as cleanup:
            security = _security(request.security, cleanup)
            cluster = LocalKafkaCluster(root, request.brokers, cache_dir=request.cache_dir,
                                        security=security, exporter=request.monitor,
                                        cpus=request.cpus,
                                        **self._extra(request, root, security))
            cleanup.enter_context(cluster.start())
            yield ClusterHandle(self._info(request, cluster, root, security),
                                cluster.client_config(), self._capabilities(cluster, security),
                                security=security)

    def _extra(self, request: OpenRequest, root: Path,
               security: SecurityMaterial | None) -> dict[str, Any]:
        if not self.tiered:
            return {}
        overrides = tiered_overrides(root / "remote-tier", request.brokers)
        if security:
            overrides.update(security.remote_log_metadata_overrides())
        jars = tiered_storage_artifacts().fetch(request.cache_dir)
        return {"overrides": overrides, "extra_classpath": (f"{jars}/*",), "broker_metrics": True}

    def _info(self, request: OpenRequest, cluster: LocalKafkaCluster, root: Path,
              security: SecurityMaterial | None) -> ClusterInfo:
        extras: dict[str, Any] = {"root": str(root), "principals": sorted(security.passwords)
                                  if security and security.passwords else None}
        if self.tiered:
            extras.update(remote_storage_manager=_LOCAL_TIERED_STORAGE,
                          notes="Tiered Storage refuses compacted topics: the changelog is "
                                "delete-retention; tombstones stay in the log")
        return ClusterInfo("embedded", cluster.bootstrap, KAFKA_VERSION, storage=self.storage,
                           brokers=request.brokers, security=request.security,
                           topic_configs=TIERED_TOPIC_CONFIGS if self.tiered else None,
                           extras=extras)

    def _capabilities(self, cluster: LocalKafkaCluster,
                      security: SecurityMaterial | None) -> Capabilities:
        audited = security is not None and security.mode == "sasl_ssl"
        return Capabilities(
            processes=BrokerProcesses(cluster, [n.node_id for n in cluster.nodes]),
            server_pids=cluster.server_pids,
            settle_after_seed=partial(tiered_proof.settle_after_seed, cluster,
                                      tiered=self.tiered),
            storage_proof=(lambda events: {"remote_tier": tiered_proof.remote_tier_proof(
                events, cluster)}) if self.tiered else None,
            access_log=partial(_access_seen, cluster) if audited else None,
            metrics_endpoints=cluster.metrics_endpoints if cluster.exporter_ports else None)


def _security(mode: str | None, cleanup: ExitStack) -> SecurityMaterial | None:
    """The CA, certificate and users, beside the cluster's folder (which must start empty)."""
    if not mode:
        return None
    secret_dir = Path(tempfile.mkdtemp(prefix="rb-security-"))
    cleanup.callback(shutil.rmtree, secret_dir, ignore_errors=True)   # made just above
    return security_material.generate(secret_dir / "material", mode)


def _access_seen(cluster: LocalKafkaCluster, since_ns: int, until_ns: int) -> dict:
    return audit_log.read([n.audit_log_path for n in cluster.nodes], since_ns, until_ns)


LOCAL_DISK = EmbeddedKafka("kafka", tiered=False)
TIERED = EmbeddedKafka("tiered", tiered=True)
