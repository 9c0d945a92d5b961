"""What a platform is to a run: how it is opened, how clients reach it, and what it can do.

A platform is one module with one `Platform` object (kafka_platform.py, tansu_platform.py,
external_platform.py), listed in registry.py; the CLI's `--cluster` choices, `compat` and
`--security` are written from that list. An opened platform is a `ClusterHandle`: the common
facts every run needs (`ClusterInfo`), the clients' settings, and `Capabilities`: one object per
thing the platform can do, present or None. Callers ask `handle.capabilities.processes`, never
`hasattr`. Adding a platform is docs/platforms.md's recipe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from replaybench.clusters.s3_server import ObjectStoreTraffic
from replaybench.clusters.security_material import SecurityMaterial
from replaybench.errors import UsageError

#: what a fault can do to a server process (engine/faults.py)
ACTIONS = ("kill", "restart", "replace", "pause", "resume")
#: a storage proof's entry saying why it failed; the run fails with it, not the manifest
PROOF_FAILED = "storage_proof_failed"


class FaultRefused(UsageError):
    """A fault aimed at a process the platform does not have, or cannot do that to."""


@dataclass(frozen=True)
class OpenRequest:
    """What the user asked of an embedded platform."""
    cache_dir: Path
    brokers: int = 1
    security: str | None = None    #: one of the platform's security_modes
    monitor: bool = False          #: serve the servers' own metrics to a Prometheus
    cpus: frozenset[int] | None = None   #: the cores its servers run on (cpu_budget.py)


@dataclass(frozen=True)
class ClusterInfo:
    """The cluster as a run needs it and as the manifest describes it: a core every platform
    fills, and the platform's own extras (written beside the core, never read by the run)."""
    origin: str                    #: embedded or external: who started it (manifest: `kind`)
    bootstrap: str
    broker_version: str
    storage: str | None = None     #: the storage model: local-disk, tiered or s3
    brokers: int | None = None
    security: str | None = None    #: tls or sasl_ssl
    topic_configs: dict[str, str] | None = None  #: the changelog needs these here
    replication: int | None = None  #: a replication factor the cluster imposes (Tansu: 1)
    extras: dict[str, Any] = field(default_factory=dict)   #: the platform's own facts

    def to_manifest(self) -> dict[str, Any]:
        core = {("kind" if k == "origin" else k): v for k, v in asdict(self).items()
                if k != "extras" and v is not None}
        return {**core, **{k: v for k, v in self.extras.items() if v is not None}}


class ProcessControl(ABC):
    """The server processes of a platform that faults may act on, each by name ("broker-2",
    "s3"). An action a process does not take is refused by name, before the run starts."""

    @abstractmethod
    def actions(self) -> dict[str, frozenset[str]]:
        """Each process's name -> the ACTIONS it takes."""

    def check(self, action: str, process: str) -> None:
        """FaultRefused, in one line, unless `process` exists and takes `action`."""
        known = self.actions()
        if process not in known:
            raise FaultRefused(f"no process {process!r} on this cluster (it has "
                               f"{', '.join(sorted(known)) or 'none that faults can reach'})")
        if action not in known[process]:
            raise FaultRefused(f"{process} cannot {action} here (it can "
                               f"{', '.join(sorted(known[process]))})")

    def kill(self, process: str) -> None:
        self._refuse("kill", process)

    def restart(self, process: str) -> None:
        self._refuse("restart", process)

    def replace(self, process: str) -> None:
        self._refuse("replace", process)

    def pause(self, process: str) -> None:
        self._refuse("pause", process)

    def resume(self, process: str) -> None:
        self._refuse("resume", process)

    def data_bytes(self, process: str) -> int:
        """Bytes the process keeps on local disk (0: none, or not known)."""
        return 0

    def startup_bytes_read(self, process: str) -> int | None:
        """What the newest process read from an object store before it served (None: not
        known here)."""
        return None

    def _refuse(self, action: str, process: str) -> None:
        self.check(action, process)
        raise FaultRefused(f"{process} cannot {action} here")


class ObjectStore(Protocol):
    """An object store whose server counts its own traffic (S3 calls and bytes)."""

    def traffic(self) -> ObjectStoreTraffic | None: ...
    def describe(self) -> str: ...


@dataclass(frozen=True)
class Capabilities:
    """What an opened platform can do; None: it cannot."""
    #: the server processes faults act on
    processes: ProcessControl | None = None
    #: the object store the platform writes to, metered from the server's side
    object_store: ObjectStore | None = None
    #: the server processes on this host by name, for their CPU per tick (asked every tick: a
    #: fault changes them)
    server_pids: Callable[[], dict[str, int]] | None = None
    #: run once the seed is written (changelog topic) -> what it saw, for the event log
    settle_after_seed: Callable[[str], dict[str, Any]] | None = None
    #: the run's events -> manifest entries proving where the restore read from (with
    #: PROOF_FAILED when they disprove it)
    storage_proof: Callable[[list[dict]], dict[str, Any]] | None = None
    #: (since_ns, until_ns) -> per principal what the broker allowed and denied
    access_log: Callable[[int, int], dict[str, dict[str, list[str]]]] | None = None
    #: the servers' own Prometheus endpoints (name -> host:port serving /metrics), asked for
    #: with OpenRequest.monitor
    metrics_endpoints: Callable[[], dict[str, str]] | None = None


@dataclass
class ClusterHandle:
    """An opened platform, for the length of its `with`."""
    info: ClusterInfo
    client_config: dict[str, str]
    capabilities: Capabilities = field(default_factory=Capabilities)
    security: SecurityMaterial | None = None   #: a secured embedded cluster's users and CA

    def server_pids(self) -> dict[str, int]:
        pids = self.capabilities.server_pids
        return pids() if pids else {}

    def after_seed(self, changelog: str) -> Callable[[], dict[str, Any]] | None:
        settle = self.capabilities.settle_after_seed
        return (lambda: settle(changelog)) if settle else None

    def storage_proof(self, events: list[dict]) -> dict[str, Any]:
        proof = self.capabilities.storage_proof
        return proof(events) if proof else {}

    def access_seen(self, since_ns: int, until_ns: int) -> dict[str, dict[str, list[str]]]:
        log = self.capabilities.access_log
        return log(since_ns, until_ns) if log else {}


class Platform(ABC):
    """One kind of cluster replaybench can start here (`--cluster NAME`)."""
    name: str                           #: the --cluster choice
    storage: str                        #: the storage model it stands for
    summary: str                        #: one line for --help and docs
    security_modes: tuple[str, ...] = ()   #: what --security may ask of it

    @abstractmethod
    def open(self, request: OpenRequest, root: Path,
             note: Callable[[str], None]) -> AbstractContextManager[ClusterHandle]:
        """Start the platform in `root` (an empty temp dir the caller made and removes) and
        stop everything it started (by pid) when the `with` ends."""

    def check(self, request: OpenRequest) -> None:
        """Refuse in one line, before anything starts, what this platform cannot do."""
        if request.security and request.security not in self.security_modes:
            raise UsageError(f"--security {request.security}: --cluster {self.name} cannot be "
                             f"secured here ({self.why_unsecured()})")

    def why_unsecured(self) -> str:
        return "it has no TLS listener or authorizer"
