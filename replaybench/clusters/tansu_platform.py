"""Tansu (`s3`): a stateless Kafka-compatible broker whose storage is a bucket on a local S3
server (SeaweedFS), both started here. Faults can reach the broker and the S3 server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from replaybench.clusters.broker_processes import BrokerProcesses
from replaybench.clusters.platform import (
    Capabilities,
    ClusterHandle,
    ClusterInfo,
    OpenRequest,
    Platform,
)
from replaybench.clusters.s3_server import S3_PROCESS
from replaybench.clusters.tansu import TANSU_VERSION, TansuCluster


class TansuOnS3(Platform):
    name = "s3"
    storage = "s3"
    summary = "Tansu, a stateless broker storing in a local S3 server (SeaweedFS)"

    def why_unsecured(self) -> str:
        return "Tansu, the s3 model, has no TLS listener or authorizer"

    @contextmanager
    def open(self, request: OpenRequest, root: Path,
             note: Callable[[str], None]) -> Iterator[ClusterHandle]:
        note(f"starting Tansu {TANSU_VERSION} on a local S3 server (first use builds it with "
             "cargo, ~17 min)")
        with TansuCluster(root, request.cache_dir, cpus=request.cpus).start() as cluster:
            yield ClusterHandle(_info(cluster, root), cluster.client_config(), Capabilities(
                # One process stands for a fleet of stateless brokers: a workload written for
                # N brokers aims its faults at broker-1..N, and each is that process.
                processes=BrokerProcesses(cluster, list(range(1, request.brokers + 1)),
                                          others={S3_PROCESS: cluster.s3.process},
                                          startup_reads=cluster.startup_bytes_read),
                object_store=cluster.s3, server_pids=cluster.server_pids,
                # Tansu 0.6 pushes OpenTelemetry only, and serves no scrape endpoint: its
                # S3 server's own metrics are what Prometheus can see of this platform
                metrics_endpoints=_s3_metrics(cluster) if request.monitor else None))


def _s3_metrics(cluster: TansuCluster) -> Callable[[], dict[str, str]] | None:
    endpoint = cluster.s3.metrics_endpoint()
    return (lambda: {S3_PROCESS: endpoint}) if endpoint else None


def _info(cluster: TansuCluster, root: Path) -> ClusterInfo:
    return ClusterInfo(
        "embedded", cluster.bootstrap, f"tansu {TANSU_VERSION}", storage="s3", brokers=1,
        topic_configs={"cleanup.policy": "delete"}, replication=1,
        extras={"root": str(root), "s3_endpoint": cluster.s3.endpoint,
                "object_store_server": cluster.s3.describe(),
                "notes": "Tansu has no log compaction: the changelog keeps every update and "
                         "tombstone, and a restore reads them all; its brokers are stateless, "
                         "so a replacement moves no data"})


TANSU = TansuOnS3()
