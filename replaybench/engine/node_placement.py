"""Which Ray node each actor runs on: a plan made from the alive nodes and the workload's
placement, then applied with hard node affinity.

Why node affinity in round-robin, not placement groups or Ray's SPREAD: the actors ask for no
CPU (a 2-core machine hosts a dozen), and Ray's SPREAD does not spread zero-CPU actors (six of
seven landed on one node). Placement groups would need CPU bundles the actors do not use. A
round-robin over the nodes in a fixed order is even by construction (each node holds
floor(n/k) or ceil(n/k) of a role's n actors), the same on every run, and easy to state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from replaybench.engine.workload import Placement
from replaybench.errors import UsageError
from replaybench.roles.kinds import Role

LIVE = (Role.SEEDER, Role.PRODUCER, Role.CONSUMER)       #: the traffic whose latency is measured
RESTORE = (Role.READER, Role.STREAMS)                    #: the restore engines


@dataclass(frozen=True)
class Node:
    node_id: str
    address: str
    labels: dict[str, str] = field(default_factory=dict)
    head: bool = False
    cpus: int = 0            #: the node's CPU resource in Ray


class PlacementError(UsageError):
    """A placement the Ray cluster cannot meet (said before anything starts)."""


class Placer:
    """Gives each new actor its node; each role's actors go round-robin over the role's nodes,
    the rotation starting where the previous role's ended (so the roles together stay even)."""

    def __init__(self, nodes: list[Node], placement: Placement) -> None:
        if not nodes:
            raise PlacementError("the Ray cluster has no alive node")
        # the head first (the coordinator runs there), then by address and id: the same order
        # every run
        self.nodes = sorted(nodes, key=lambda n: (not n.head, n.address, n.node_id))
        self.placement = placement
        self.pools = {role: self._pool(role) for role in Role}
        self._turn: dict[Role, int] = {}
        self._placed = 0
        self.plan: dict[str, str] = {}    #: actor name -> node id

    def node_for(self, name: str, role: Role) -> str:
        pool = self.pools[role]
        turn = self._turn.setdefault(role, self._placed)
        self._turn[role] = turn + 1
        self._placed += 1
        self.plan[name] = pool[turn % len(pool)].node_id
        return self.plan[name]

    def describe(self) -> dict:
        """For the manifest: the policy, and per node its address, labels and actors."""
        return {"policy": self.placement.policy, "pin": dict(self.placement.pin),
                "nodes": [{"node_id": n.node_id, "address": n.address, "labels": n.labels,
                           "head": n.head, "cpus": n.cpus,
                           "actors": sorted(a for a, where in self.plan.items()
                                            if where == n.node_id)} for n in self.nodes]}

    def _pool(self, role: Role) -> list[Node]:
        label = self.placement.pin.get(role.value)
        if label:
            key, value = label.split("=")
            pinned = [n for n in self.nodes if n.labels.get(key) == value]
            if not pinned:
                raise PlacementError(f"placement.pin.{role.value}: no alive Ray node carries "
                                     f"the label {label} (nodes: {self._labels()})")
            return pinned
        if self.placement.policy == "separate":
            if len(self.nodes) < 2:
                raise PlacementError("placement.policy separate needs at least 2 Ray nodes "
                                     "(live traffic on one, restore engines on the others); "
                                     f"this Ray cluster has {len(self.nodes)}")
            return self.nodes[:1] if role in LIVE else self.nodes[1:]
        return self.nodes

    def _labels(self) -> str:
        return "; ".join(f"{n.address} {n.labels or '{}'}" for n in self.nodes)
