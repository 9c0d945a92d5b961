"""Open-loop intended send times: a piecewise-constant rate, as pure functions of time.

Record i of a schedule is due at a fixed instant decided before the run; a producer that falls
behind sends late but never moves the instants, so latency measured from them includes the
wait (no coordinated omission).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class RateSchedule:
    """Steps of (start in ns from the schedule's origin, records per second), sorted, first at 0."""

    steps: tuple[tuple[int, float], ...]

    @classmethod
    def constant(cls, rate_per_s: float) -> RateSchedule:
        return cls(((0, float(rate_per_s)),))

    @classmethod
    def from_spec(cls, rate_per_s: float, rate_steps: dict[str, str]) -> RateSchedule:
        """`rate_steps` maps seconds from the origin to a new rate; before the first, rate_per_s."""
        points = {0: float(rate_per_s)}
        points.update({int(float(at) * NS_PER_S): float(rate) for at, rate in rate_steps.items()})
        return cls(tuple(sorted(points.items())))

    @functools.cached_property
    def _firsts(self) -> list[int]:
        """Index of the first record of each step."""
        firsts, n = [], 0
        for k, (start, rate) in enumerate(self.steps):
            firsts.append(n)
            if k + 1 < len(self.steps):
                n += math.ceil((self.steps[k + 1][0] - start) * rate / NS_PER_S)
        return firsts

    @functools.cached_property
    def records(self) -> int | None:
        """How many records the schedule has in all: None while its last rate goes on."""
        return self._firsts[-1] if self.steps[-1][1] <= 0 else None

    def due(self, t_ns: int) -> int:
        """How many records are due at or before t_ns (from the origin)."""
        if t_ns < 0:
            return 0
        firsts = self._firsts
        k = max(i for i, (start, _) in enumerate(self.steps) if start <= t_ns)
        start, rate = self.steps[k]
        n = 0
        if rate > 0:
            # An estimate, then corrected against _offset so that due() and intended() agree to
            # the nanosecond despite float rounding.
            n = math.floor((t_ns - start) * rate / NS_PER_S) + 1
            while n > 0 and start + _offset(n - 1, rate) > t_ns:
                n -= 1
            while start + _offset(n, rate) <= t_ns:
                n += 1
        n += firsts[k]
        return n if k + 1 == len(self.steps) else min(n, firsts[k + 1])

    def intended(self, lo: int, hi: int) -> np.ndarray:
        """Intended instants (ns from the origin) of records lo..hi-1."""
        index = np.arange(lo, hi, dtype=np.int64)
        out = np.zeros(hi - lo, np.int64)
        firsts = self._firsts
        for k, (start, rate) in enumerate(self.steps):
            end = firsts[k + 1] if k + 1 < len(self.steps) else None
            mask = (index >= firsts[k]) if end is None else (index >= firsts[k]) & (index < end)
            if rate > 0 and mask.any():
                out[mask] = start + np.ceil((index[mask] - firsts[k]) * (NS_PER_S / rate)).astype(np.int64)
        return out


def _offset(k: int, rate: float) -> int:
    """ns from its step's start to the step's k-th record; the same float operations as the
    vectorised form in intended()."""
    return int(np.ceil(np.float64(k) * (NS_PER_S / rate)))
