"""Faults' view of a cluster whose brokers are numbered: `broker-N` names broker N.

Every platform here keeps its brokers by node id (the embedded Kafka cluster, Tansu, a
profile's hooks); this adapter gives them the named-process face faults use, and adds any
other process the platform has (Tansu's S3 server) beside them.
"""

from __future__ import annotations

from typing import Protocol

from replaybench.clusters.platform import ACTIONS, ProcessControl
from replaybench.clusters.processes import ServerProcess


class NumberedBrokers(Protocol):
    """What LocalKafkaCluster, TansuCluster and a profile's HookCluster offer."""

    def kill(self, node_id: int) -> None: ...
    def restart(self, node_id: int) -> None: ...
    def replace(self, node_id: int) -> None: ...
    def pause(self, node_id: int) -> None: ...
    def resume(self, node_id: int) -> None: ...
    def data_bytes(self, node_id: int) -> int: ...


def broker_name(node_id: int) -> str:
    return f"broker-{node_id}"


class BrokerProcesses(ProcessControl):
    """brokers: the node ids; actions: what each broker takes (a profile: its hooks);
    others: further processes by name (paused and resumed with signals)."""

    def __init__(self, cluster: NumberedBrokers, node_ids: list[int],
                 actions: frozenset[str] = frozenset(ACTIONS),
                 others: dict[str, ServerProcess] | None = None,
                 startup_reads=None) -> None:
        """startup_reads: node id -> what a new broker process read from the object store
        before serving (None: not known)."""
        self.cluster, self.node_ids, self.broker_actions = cluster, node_ids, actions
        self.others = others or {}
        self.startup_reads = startup_reads

    def actions(self) -> dict[str, frozenset[str]]:
        signals = frozenset({"pause", "resume"})
        return {**{broker_name(n): self.broker_actions for n in self.node_ids},
                **{name: signals for name in self.others}}

    def kill(self, process: str) -> None:
        self.cluster.kill(self._node(process, "kill"))

    def restart(self, process: str) -> None:
        self.cluster.restart(self._node(process, "restart"))

    def replace(self, process: str) -> None:
        self.cluster.replace(self._node(process, "replace"))

    def pause(self, process: str) -> None:
        self.check("pause", process)
        other = self.others.get(process)
        other.pause() if other else self.cluster.pause(self._node(process))

    def resume(self, process: str) -> None:
        self.check("resume", process)
        other = self.others.get(process)
        other.resume() if other else self.cluster.resume(self._node(process))

    def data_bytes(self, process: str) -> int:
        return self.cluster.data_bytes(self._node(process)) if process not in self.others else 0

    def startup_bytes_read(self, process: str) -> int | None:
        if self.startup_reads is None or process in self.others:
            return None
        return self.startup_reads(self._node(process))

    def _node(self, process: str, action: str | None = None) -> int:
        if action:
            self.check(action, process)
        return int(process.removeprefix("broker-"))
