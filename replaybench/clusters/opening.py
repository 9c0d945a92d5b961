"""The one way a run gets its cluster: an existing one (a bootstrap address or a profile) or an
embedded platform from the registry (`kafka`, `tiered`, `s3`) started here and stopped
afterwards, as a typed handle (platform.py).

A handle keeps apart what the run works with (how to connect, the capabilities) and what
describes the cluster in the manifest (`info`, the only part written).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from replaybench.clusters import external_platform, registry
from replaybench.clusters.platform import ClusterHandle, OpenRequest
from replaybench.errors import UsageError


@dataclass(frozen=True)
class ClusterChoice:
    """What the user asked for: a profile, a bootstrap address, or an embedded platform."""
    cache_dir: Path
    profile: Path | None = None
    bootstrap: str | None = None
    platform: str = "kafka"        #: embedded: a registry name (registry.py)
    brokers: int = 1               #: embedded: how many brokers
    security: str | None = None    #: embedded: one of the platform's security modes
    monitor: bool = False          #: embedded: its servers serve their metrics (--monitor)
    cpus: frozenset[int] | None = None   #: embedded: the cores its servers run on

    @property
    def label(self) -> str:
        """What the cluster is called in result ids: the platform, profile or external."""
        return "profile" if self.profile else "external" if self.bootstrap else self.platform

    def check(self) -> None:
        """Refuse in one line, before anything starts, what cannot be opened as asked."""
        if self.security and (self.profile or self.bootstrap):
            raise UsageError("--security starts a secured embedded cluster: an external "
                             "cluster brings its own, in its client config")
        if self.cpus and (self.profile or self.bootstrap):
            raise UsageError("--cluster-cpus pins the servers of an embedded cluster; an "
                             "external cluster's servers are not started here")
        if self.monitor and (self.profile or self.bootstrap):
            raise UsageError("--monitor watches the servers of an embedded cluster; an external "
                             "cluster is watched by a Prometheus of its own")
        if not (self.profile or self.bootstrap):
            registry.get(self.platform).check(self._request())

    def _request(self) -> OpenRequest:
        return OpenRequest(self.cache_dir, self.brokers, self.security, self.monitor, self.cpus)


@contextmanager
def open_cluster(choice: ClusterChoice, note: Callable[[str], None]) -> Iterator[ClusterHandle]:
    """The chosen cluster for the length of the `with`; an embedded one is started in a temp
    dir of its own and stopped (by pid) and removed afterwards. `note`: progress lines."""
    choice.check()
    if choice.profile:
        yield external_platform.profiled(choice.profile)
    elif choice.bootstrap:
        yield external_platform.bootstrap(choice.bootstrap)
    else:
        root = Path(tempfile.mkdtemp(prefix="rb-kafka-"))
        try:
            with registry.get(choice.platform).open(choice._request(), root, note) as handle:
                yield handle
        finally:
            shutil.rmtree(root, ignore_errors=True)   # the temp dir made just above
