"""How many readers a restore group gets when the workload leaves it to the harness
(`storm.readers: auto`, the default): two per core the harness is given, at most one per
partition of the changelog, at least one. A number in the workload is used as it is.

The cores are those the readers can run on: this process's CPU affinity with a private Ray
(all of the machine's, or the --harness-cpus budget, which the actors inherit); on a joined Ray
cluster, the CPUs of the nodes its placement gives the readers (all, or those `separate` or a
pin leaves them).

Why two per core: a reader (the native consumer) is not on CPU all the time; it waits on its
fetches. In a default restore-storm on a 2-core machine beside its broker (three rounds, the
counts alternated), one reader used 0.82-0.89 of a core, two 0.49-0.59 each, four 0.41-0.48
each; four restored fastest (2.3-3.0 s, against 2.9-4.3 s for two and 3.6-4.0 s for one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from replaybench.engine.node_placement import Node

READERS_PER_CORE = 2


@dataclass(frozen=True)
class ReaderCount:
    readers: int       #: per restore group
    asked: int | str   #: the workload's storm.readers: a number, or "auto"
    cores: int         #: the cores the harness was given (0: not looked at)
    source: str        #: where `cores` came from

    def to_manifest(self) -> dict:
        return {"readers": self.readers, "asked": self.asked, "cores": self.cores,
                "cores_from": self.source}


def choose(asked: int | str, partitions: int, cores: int, source: str) -> ReaderCount:
    if asked != "auto":
        return ReaderCount(int(asked), asked, 0, "the workload fixes it")
    return ReaderCount(max(1, min(READERS_PER_CORE * cores, partitions)), asked, cores,
                       source)


def harness_cores(joined: bool, reader_nodes: list[Node]) -> tuple[int, str]:
    """The cores the readers may run on, and where that came from. joined: the run joined a
    Ray cluster (--ray-address) rather than starting a private one here; reader_nodes: the
    nodes its placement lets readers run on."""
    if not joined:
        return len(os.sched_getaffinity(0)), "this process's CPU affinity"
    return sum(n.cpus for n in reader_nodes), "the CPUs of the Ray nodes the readers may run on"
