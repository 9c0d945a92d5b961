"""1-second ticks over Ray actors, two queued ahead on each so none idles between intervals.

An actor's tick(deadline) works until the deadline and returns a Snapshot of that interval.
Keeping the next tick already queued means an open-loop producer never waits for a round trip
to the coordinator, which would otherwise show up as harness-made latency.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from replaybench.errors import RunError
from replaybench.meters.snapshots import Snapshot

TICK_NS = 1_000_000_000
GRACE_S = 120.0   # an actor this late past its deadline is hung (a seeder's final flush is slow)


class ActorFailed(RunError):
    """An actor died or its role raised; the run fails with what it measured so far."""


class Ticker:
    def __init__(self, clock: Callable[[], int], tick_ns: int = TICK_NS) -> None:
        self.clock, self.tick_ns = clock, tick_ns
        self.deadline = clock() + tick_ns     #: end of the interval being measured
        self.handles: dict[str, Any] = {}
        self.queues: dict[str, deque] = {}
        self.retiring: set[str] = set()
        self.count = 0

    def add(self, name: str, handle: Any) -> None:
        """Tick this actor from the current interval on."""
        self.handles[name] = handle
        self.retiring.discard(name)
        self.queues[name] = deque(handle.call.remote("tick", d)
                                  for d in (self.deadline, self.deadline + self.tick_ns))

    def retire(self, name: str) -> None:
        """Queue no more ticks; the ones queued still complete and are returned by step()."""
        self.retiring.add(name)

    def active(self) -> list[str]:
        return [n for n in self.queues if n not in self.retiring]

    def step(self) -> tuple[int, list[tuple[str, Snapshot]]]:
        """Wait for the current interval of every actor; returns (interval start, snapshots)."""
        start = self.deadline - self.tick_ns
        refs = {}
        for name, queue in list(self.queues.items()):
            refs[name] = queue.popleft()
            if name not in self.retiring:
                queue.append(self.handles[name].call.remote("tick", self.deadline + 2 * self.tick_ns))
            elif not queue:
                del self.queues[name]
        if not refs:  # nothing ticking (a phase without live traffic): keep the cadence
            time.sleep(max(self.deadline - self.clock(), 0) / 1e9)
        wait_s = max((self.deadline - self.clock()) / 1e9, 0) + GRACE_S
        snapshots = [(name, get(ref, name, "tick", wait_s)) for name, ref in refs.items()]
        self.count += 1
        # After a slow interval (a flush), restart the cadence from now rather than firing
        # a burst of intervals that are already over.
        self.deadline = max(self.deadline + self.tick_ns, self.clock() + self.tick_ns // 10)
        return start, snapshots


def call(handle: Any, name: str, method: str, *args: Any, timeout_s: float = GRACE_S) -> Any:
    """One blocking call into an actor's role, its failure named by the actor."""
    return get(handle.call.remote(method, *args), name, method, timeout_s)


def get(ref: Any, name: str, what: str, timeout_s: float = GRACE_S) -> Any:
    import ray
    try:
        return ray.get(ref, timeout=timeout_s)
    except ray.exceptions.GetTimeoutError:
        raise ActorFailed(f"{name}: {what} did not return within {timeout_s:.0f} s") from None
    except ray.exceptions.RayError as exc:
        raise ActorFailed(f"{name}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    """The role's own error, not Ray's wrapping of it."""
    cause = getattr(exc, "cause", None)
    if cause is not None:
        return f"{type(cause).__name__}: {cause}".splitlines()[0]
    lines = [ln for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
