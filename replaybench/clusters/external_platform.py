"""A cluster replaybench did not start: a bare bootstrap address, or a cluster profile (YAML:
bootstrap, client config, labels, and shell hooks faults can act through)."""

from __future__ import annotations

from pathlib import Path

from replaybench.clusters import profile
from replaybench.clusters.broker_processes import BrokerProcesses
from replaybench.clusters.platform import ACTIONS, Capabilities, ClusterHandle, ClusterInfo

#: a profile's hooks name no brokers: faults may aim at broker-1..PROFILE_BROKERS
PROFILE_BROKERS = 9


def bootstrap(address: str) -> ClusterHandle:
    """Reached as it is; nothing can be done to it."""
    return ClusterHandle(ClusterInfo("external", address, "unknown"),
                         {"bootstrap.servers": address})


def profiled(path: Path) -> ClusterHandle:
    prof = profile.load(path)
    info = ClusterInfo("external", prof.bootstrap, prof.labels.get("version", "unknown"),
                       extras={"name": prof.name, "labels": dict(prof.labels),
                               "hooks": sorted(prof.hooks)})
    hooked = frozenset(a for a in ACTIONS if a in prof.hooks)
    processes = BrokerProcesses(profile.HookCluster(prof), list(range(1, PROFILE_BROKERS + 1)),
                                hooked) if hooked else None
    return ClusterHandle(info, {**prof.client_config, "bootstrap.servers": prof.bootstrap},
                         Capabilities(processes=processes))
