"""The one way a run gets its cluster: an existing one (a bootstrap address or a profile) or an
embedded one (`kafka`, `tiered`, `s3`) started here and stopped afterwards, as a typed handle.

A handle keeps apart what the run works with (how to connect, the drill target, the object
store) and what describes the cluster in the manifest (`info`, the only part written).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from replaybench.clusters import audit_log, profile, security_material, tiered_proof
from replaybench.clusters.artifacts import KAFKA_VERSION, tiered_storage_artifacts
from replaybench.clusters.kafka_config import TIERED_TOPIC_CONFIGS, tiered_overrides
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.clusters.s3_server import S3Server
from replaybench.clusters.security_material import SecurityMaterial
from replaybench.clusters.tansu import TANSU_VERSION, TansuCluster
from replaybench.errors import UsageError

EMBEDDED_KINDS = ("kafka", "tiered", "s3")
SECURED_KINDS = ("kafka", "tiered")   #: the embedded kinds --security can start


@dataclass(frozen=True)
class ClusterChoice:
    """What the user asked for: a profile, a bootstrap address, or an embedded cluster."""
    cache_dir: Path
    profile: Path | None = None
    bootstrap: str | None = None
    kind: str = "kafka"            #: embedded: kafka, tiered or s3
    brokers: int = 1               #: embedded kafka and tiered
    security: str | None = None    #: embedded kafka: tls or sasl_ssl (security_material.py)


@dataclass(frozen=True)
class ClusterInfo:
    """The cluster as the manifest describes it."""
    kind: str                      #: embedded or external
    bootstrap: str
    broker_version: str
    name: str | None = None        #: a profile's name
    labels: dict[str, str] | None = None
    hooks: list[str] | None = None
    storage: str | None = None     #: embedded: local-disk, tiered or s3
    brokers: int | None = None
    root: str | None = None        #: embedded: its temp dir (also how its processes are found)
    s3_endpoint: str | None = None
    object_store_server: str | None = None
    remote_storage_manager: str | None = None
    topic_configs: dict[str, str] | None = None  #: the changelog needs these here
    replication: int | None = None  #: a replication factor the cluster imposes (Tansu: 1)
    security: str | None = None    #: tls or sasl_ssl
    principals: list[str] | None = None  #: sasl_ssl: the SCRAM users (never their passwords)
    notes: str | None = None

    def to_manifest(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class ClusterHandle:
    info: ClusterInfo
    client_config: dict[str, str]
    drills: Any = None             #: LocalKafkaCluster, TansuCluster, HookCluster or None
    object_store: S3Server | None = None
    security: SecurityMaterial | None = None   #: a secured embedded cluster's users and CA

    @property
    def embedded(self) -> bool:
        return self.info.kind == "embedded"

    def after_seed(self, changelog: str) -> Callable[[], dict] | None:
        """What the coordinator runs once the seed is written: an embedded cluster flushes it
        to disk and, tiered, waits for the offload; an external one does nothing."""
        if not self.embedded:
            return None
        tiered = self.info.storage == "tiered"
        return lambda: tiered_proof.settle_after_seed(self.drills, changelog, tiered)

    def storage_proof(self, events: list[dict]) -> dict[str, Any]:
        """Manifest entries proving where the restore read from (tiered: the remote tier)."""
        if self.info.storage != "tiered":
            return {}
        return {"remote_tier": tiered_proof.remote_tier_proof(events, self.drills)}

    def access_seen(self, since_ns: int, until_ns: int) -> dict[str, dict[str, list[str]]]:
        """On a sasl_ssl embedded cluster, what each principal was allowed and denied between
        the two wall-clock times, from the brokers' own authorizer logs; elsewhere nothing."""
        if self.security is None or self.security.mode != "sasl_ssl":
            return {}
        return audit_log.read([n.audit_log_path for n in self.drills.nodes], since_ns, until_ns)

    def server_pids(self) -> dict[str, int]:
        """The cluster's server processes on this host, for their CPU per tick."""
        return self.drills.server_pids() if hasattr(self.drills, "server_pids") else {}


@contextmanager
def open_cluster(choice: ClusterChoice, note: Callable[[str], None]) -> Iterator[ClusterHandle]:
    """The chosen cluster for the length of the `with`; an embedded one is started in a temp
    dir of its own and stopped (by pid) and removed afterwards. `note`: progress lines."""
    if choice.security and (choice.profile or choice.bootstrap or choice.kind not in SECURED_KINDS):
        raise UsageError("--security starts a secured embedded cluster: it applies to "
                         "--cluster kafka and tiered (an external cluster brings its own, in its "
                         "client config; Tansu, the s3 model, has no TLS listener or authorizer)")
    if choice.profile:
        yield _profiled(profile.load(choice.profile))
    elif choice.bootstrap:
        yield ClusterHandle(ClusterInfo("external", choice.bootstrap, "unknown"),
                            {"bootstrap.servers": choice.bootstrap})
    else:
        root = Path(tempfile.mkdtemp(prefix="rb-kafka-"))
        try:
            opened = _tansu(choice, root, note) if choice.kind == "s3" else \
                _kafka(choice, root, note)
            with opened as handle:
                yield handle
        finally:
            shutil.rmtree(root, ignore_errors=True)   # the temp dir made just above


_TIERED_INFO = {
    "remote_storage_manager": "org.apache.kafka.server.log.remote.storage.LocalTieredStorage",
    "topic_configs": TIERED_TOPIC_CONFIGS,
    "notes": "Tiered Storage refuses compacted topics: the changelog is delete-retention; "
             "tombstones stay in the log"}


def _profiled(prof: profile.ClusterProfile) -> ClusterHandle:
    info = ClusterInfo("external", prof.bootstrap, prof.labels.get("version", "unknown"),
                       name=prof.name, labels=dict(prof.labels), hooks=sorted(prof.hooks))
    return ClusterHandle(info, {**prof.client_config, "bootstrap.servers": prof.bootstrap},
                         profile.HookCluster(prof) if prof.hooks else None)


@contextmanager
def _kafka(choice: ClusterChoice, root: Path, note: Callable[[str], None]) -> Iterator[ClusterHandle]:
    tiered = choice.kind == "tiered"
    note(f"starting embedded Kafka {KAFKA_VERSION} ({choice.brokers} broker"
         f"{'s' if choice.brokers > 1 else ''}{', Tiered Storage' if tiered else ''}"
         f"{f', {choice.security}' if choice.security else ''})")
    extra: dict[str, Any] = {}
    if tiered:
        jars = tiered_storage_artifacts().fetch(choice.cache_dir)
        extra = {"overrides": tiered_overrides(root / "remote-tier", choice.brokers),
                 "extra_classpath": (f"{jars}/*",), "broker_metrics": True}
    with ExitStack() as cleanup:
        security = None
        if choice.security:   # beside the cluster's folder, which it must find empty
            secret_dir = Path(tempfile.mkdtemp(prefix="rb-security-"))
            cleanup.callback(shutil.rmtree, secret_dir, ignore_errors=True)   # made just above
            security = security_material.generate(secret_dir / "material", choice.security)
        if security and tiered:
            extra["overrides"].update(security.remote_log_metadata_overrides())
        cluster = LocalKafkaCluster(root, choice.brokers, cache_dir=choice.cache_dir,
                                    security=security, **extra)
        cleanup.enter_context(cluster.start())
        info = ClusterInfo("embedded", cluster.bootstrap, KAFKA_VERSION,
                           storage="tiered" if tiered else "local-disk", brokers=choice.brokers,
                           root=str(root), security=choice.security,
                           principals=sorted(security.passwords) if security and
                           security.passwords else None,
                           **(_TIERED_INFO if tiered else {}))
        yield ClusterHandle(info, cluster.client_config(), cluster, security=security)


@contextmanager
def _tansu(choice: ClusterChoice, root: Path, note: Callable[[str], None]) -> Iterator[ClusterHandle]:
    note(f"starting Tansu {TANSU_VERSION} on a local S3 server (first use builds it with "
         "cargo, ~17 min)")
    with TansuCluster(root, choice.cache_dir).start() as cluster:
        info = ClusterInfo("embedded", cluster.bootstrap, f"tansu {TANSU_VERSION}", storage="s3",
                           brokers=1, root=str(root), s3_endpoint=cluster.s3.endpoint,
                           object_store_server=cluster.s3.describe(),
                           topic_configs={"cleanup.policy": "delete"}, replication=1,
                           notes="Tansu has no log compaction: the changelog keeps every update "
                                 "and tombstone, and a restore reads them all; its brokers are "
                                 "stateless, so a replacement moves no data")
        yield ClusterHandle(info, cluster.client_config(), cluster, object_store=cluster.s3)
