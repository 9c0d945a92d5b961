"""A CPU budget per side on one machine: the cluster's servers on some cores, the harness (its
driver, the private Ray it starts, every actor and the Kafka Streams JVMs they start) on the
others. Without one, a restore whose readers take the broker's cores is judged host-bound and
its interference is the harness's doing; with one, each side has stated cores and a cluster
that runs out of CPU has run out of its own.

Applied with the kernel's CPU affinity (sched_setaffinity), which a child process inherits: a
server is pinned as it starts, and Ray's processes take the driver's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from replaybench.errors import UsageError


@dataclass(frozen=True)
class CpuBudget:
    cluster: frozenset[int]   #: cores the embedded cluster's servers may run on
    harness: frozenset[int]   #: cores the driver, Ray and the actors may run on

    def to_manifest(self) -> dict[str, str]:
        return {"cluster": cpu_list(self.cluster), "harness": cpu_list(self.harness)}


def budget(cluster: str | None, harness: str | None) -> CpuBudget | None:
    """The budget asked for (cpu-list syntax, as taskset's: `0`, `0-1`, `0,2-3`); the side not
    given gets every other usable core. None when neither is given. A bad list, a core this
    process may not use, or sides that overlap or leave one empty is one line."""
    if not (cluster or harness):
        return None
    usable = frozenset(os.sched_getaffinity(0))
    sides = {"--cluster-cpus": _parse(cluster, "--cluster-cpus", usable) if cluster else None,
             "--harness-cpus": _parse(harness, "--harness-cpus", usable) if harness else None}
    mine = sides["--cluster-cpus"] or usable - sides["--harness-cpus"]
    theirs = sides["--harness-cpus"] or usable - mine
    if not mine or not theirs:
        raise UsageError(f"--cluster-cpus/--harness-cpus: each side needs a core of its own "
                         f"(this process may use {cpu_list(usable)})")
    if mine & theirs:
        raise UsageError(f"--cluster-cpus {cpu_list(mine)} and --harness-cpus "
                         f"{cpu_list(theirs)} share {cpu_list(mine & theirs)}")
    return CpuBudget(mine, theirs)


@contextmanager
def this_process_on(cores: frozenset[int]) -> Iterator[None]:
    """This process on `cores` for the `with`; what it starts meanwhile keeps them."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pinned_to(cores: frozenset[int] | None) -> Callable[[], None] | None:
    """A Popen preexec_fn that pins the new process to `cores` (None: nothing to do)."""
    if not cores:
        return None
    chosen = set(cores)
    return lambda: os.sched_setaffinity(0, chosen)


def affinity(pid: int) -> str:
    """The cores a running process may use, as a cpu list ('' if it is gone)."""
    try:
        return cpu_list(os.sched_getaffinity(pid))
    except OSError:
        return ""


def cpu_list(cores) -> str:
    """Sorted cores as a cpu list with ranges: {0, 1, 2, 5} -> '0-2,5'."""
    out, run = [], []
    for core in sorted(cores):
        if run and core != run[-1] + 1:
            out.append(_span(run))
            run = []
        run.append(core)
    if run:
        out.append(_span(run))
    return ",".join(out)


def _span(run: list[int]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"


def _parse(text: str, option: str, usable: frozenset[int]) -> frozenset[int]:
    cores: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())) or \
                (dash and int(high) < int(low)):
            raise UsageError(f"{option}: {text!r} is not a cpu list (e.g. 0, 0-1, 0,2-3)")
        cores.update(range(int(low), int(high or low) + 1))
    if not cores <= usable:
        raise UsageError(f"{option}: core(s) {cpu_list(cores - usable)} are not usable here "
                         f"(this process may use {cpu_list(usable)})")
    return frozenset(cores)
