"""How many readers a restore group gets when the workload leaves it to the harness
(`storm.readers: auto`, the default): one per core the harness is given, at most one per
partition of the changelog, at least one. A number in the workload is used as it is.

The cores are those the readers can run on: this process's CPU affinity with a private Ray
(all of the machine's, or the --harness-cpus budget, which the actors inherit), the joined Ray
cluster's CPUs otherwise.

Why not a fixed 4: a reader (the native consumer) used 0.5-0.7 of a core in a restore-storm on
a 2-core machine beside its broker, so a fixed count is too few on a large machine and, on a
small one, takes the cores the cluster's servers need (the restore is then judged host-bound).
Measured there: docs/running.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


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
    return ReaderCount(max(1, min(cores, partitions)), asked, cores, source)


def harness_cores(joined: bool) -> tuple[int, str]:
    """The cores the actors may run on, and where that came from. joined: the run joined a
    Ray cluster (--ray-address), rather than starting a private one here."""
    if not joined:
        return len(os.sched_getaffinity(0)), "this process's CPU affinity"
    import ray
    return int(ray.cluster_resources().get("CPU", 1)), "the Ray cluster's CPUs"
