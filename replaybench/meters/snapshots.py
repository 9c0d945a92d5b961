"""Mergeable snapshots: what every actor returns each tick, and the per-phase accumulation.

A snapshot covers one interval: counters are deltas, histograms are the interval's HDR V2 blobs,
so adding snapshots (across actors, or across ticks of a phase) is lossless and associative.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from replaybench.format.histograms import LatencyHistogram


@dataclass
class Snapshot:
    role: str
    actor: str
    t_ns: int                                   #: wall clock at the end of the interval
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)   #: `_max` merge by max, else sum
    histograms: dict[str, bytes] = field(default_factory=dict)
    done: bool = False                          #: the role has nothing more to do
    errors: list[str] = field(default_factory=list)  #: problems to log and fail the run on

    def merge(self, other: Snapshot) -> Snapshot:
        counters = dict(self.counters)
        for name, value in other.counters.items():
            counters[name] = counters.get(name, 0) + value
        gauges = dict(self.gauges)
        for name, value in other.gauges.items():
            mine = gauges.get(name)
            gauges[name] = value if mine is None else (
                max(mine, value) if name.endswith("_max") else mine + value)
        hists = dict(self.histograms)
        for name, blob in other.histograms.items():
            hists[name] = merge_blobs(hists[name], blob) if name in hists else blob
        return Snapshot(self.role, "*" if other.actor != self.actor else self.actor,
                        max(self.t_ns, other.t_ns), counters, gauges, hists,
                        self.done and other.done, self.errors + other.errors)


def merge_blobs(a: bytes, b: bytes) -> bytes:
    return LatencyHistogram.from_blob(a).add(LatencyHistogram.from_blob(b)).to_blob()


class IntervalHistograms:
    """A role's named histograms for the current interval; `take()` encodes and resets them."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.current = {name: LatencyHistogram() for name in names}

    def __getitem__(self, name: str) -> LatencyHistogram:
        return self.current[name]

    def take(self) -> dict[str, bytes]:
        blobs = {name: h.to_blob() for name, h in self.current.items() if h.count}
        for h in self.current.values():
            if h.count:
                h.reset()
        return blobs


class Accumulator:
    """Histograms summed over many snapshots (a phase of one role), kept decoded."""

    def __init__(self) -> None:
        self.histograms: dict[str, LatencyHistogram] = {}
        self.counters: dict[str, int] = {}

    def add(self, snap: Snapshot) -> None:
        for name, value in snap.counters.items():
            self.counters[name] = self.counters.get(name, 0) + value
        for name, blob in snap.histograms.items():
            hist = LatencyHistogram.from_blob(blob)
            if name in self.histograms:
                self.histograms[name].add(hist)
            else:
                self.histograms[name] = hist
