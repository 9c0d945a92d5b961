"""The `replaybench cluster` verbs: bring a local cluster up in the background, inspect, stop."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from replaybench.clusters import health
from replaybench.clusters.local_kafka import STATE_FILE, LocalKafkaCluster
from replaybench.errors import ClusterError


def default_cluster_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "replaybench" / "cluster"


def up(root: Path, brokers: int, cache_dir: Path, first_port: int | None) -> LocalKafkaCluster:
    """Start a cluster in root unless one recorded there still runs; returns once ready."""
    if (root / STATE_FILE).exists():
        existing = LocalKafkaCluster.attach(root, cache_dir)
        if existing.running():
            raise ClusterError(f"a cluster already runs in {root} (bootstrap {existing.bootstrap}); "
                               "`replaybench cluster down` first or pick another --dir")
    return LocalKafkaCluster(root, brokers, cache_dir=cache_dir, first_port=first_port).start()


@dataclass(frozen=True)
class Status:
    bootstrap: str
    brokers: dict[int, str]  # node id -> "up", "registered", "paused", "down"

    @property
    def healthy(self) -> bool:
        return all(s == "up" for s in self.brokers.values())


def status(root: Path, cache_dir: Path) -> Status:
    cluster = LocalKafkaCluster.attach(root, cache_dir)
    registered = health.live_broker_ids(health.admin(cluster.bootstrap))
    states = {}
    for node in cluster.nodes:
        proc = cluster.processes.get(node.node_id)
        state = proc.state() if proc else None
        if state is None or state in ("Z", "X"):
            states[node.node_id] = "down"
        elif state == "T":
            states[node.node_id] = "paused"
        else:
            states[node.node_id] = "up" if node.node_id in registered else "starting"
    return Status(cluster.bootstrap, states)


def attach(root: Path, cache_dir: Path) -> LocalKafkaCluster:
    return LocalKafkaCluster.attach(root, cache_dir)


def down(root: Path, cache_dir: Path) -> int:
    """Stop every broker recorded in root by pid; returns how many were running."""
    cluster = LocalKafkaCluster.attach(root, cache_dir)
    count = len(cluster.running())
    cluster.stop()
    return count
