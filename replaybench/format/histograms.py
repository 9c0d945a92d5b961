"""HDR latency histograms in integer nanoseconds, stored losslessly as HdrHistogram V2 blobs.

The compiled core records straight into `counts`, a numpy view of the hdrhistogram package's own
counts array, so every histogram still encodes to a standard V2 blob that any HdrHistogram
implementation can read and merge.
"""

from __future__ import annotations

import base64
import functools
import sys

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_NS = 1
HIGHEST_NS = 3_600_000_000_000  # one hour; longer values are clamped (and counted)
SIGNIFICANT_FIGURES = 3
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)


class LatencyHistogram:
    """One latency metric: an HdrHistogram from 1 ns to 1 h at 3 significant figures."""

    def __init__(self, hist: HdrHistogram | None = None) -> None:
        self.hist = hist or HdrHistogram(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_FIGURES)
        # hdrh keeps counts as a ctypes uint64 array; an int64 view of the same memory.
        self.counts = np.ctypeslib.as_array(self.hist.counts).view(np.int64)

    def record(self, value_ns: int) -> None:
        self.hist.record_value(min(max(value_ns, 0), HIGHEST_NS))

    def reset(self) -> None:
        """Empty it in place (hdrh's own reset loops over every bucket in Python)."""
        self.counts[:] = 0
        h = self.hist
        h.total_count, h.min_value, h.max_value = 0, sys.maxsize, 0
        h.start_time_stamp_msec, h.end_time_stamp_msec = sys.maxsize, 0

    @property
    def count(self) -> int:
        return self.hist.get_total_count()

    def add(self, other: LatencyHistogram) -> LatencyHistogram:
        if other.count:
            self.hist.add(other.hist)
        return self

    def percentile(self, p: float) -> int:
        return self.percentiles((p,))[0]

    def percentiles(self, ps: tuple[float, ...]) -> list[int]:
        """hdrh's get_value_at_percentile, over numpy arrays instead of a Python loop (~50x)."""
        if not self.count:
            return [0] * len(ps)
        cumulative = np.cumsum(self.counts)
        targets = [self.hist.get_target_count_at_percentile(p) for p in ps]
        lowest, highest, _ = _bucket_values(self.hist)
        # As hdrh: the highest value equivalent to the bucket, the lowest for percentile 0.
        return [int((highest if p else lowest)[np.searchsorted(cumulative, t)])
                for p, t in zip(ps, targets)]

    def summary(self) -> dict[str, float]:
        """count, min, max, mean and PERCENTILES, in ns (0 for an empty histogram)."""
        h = self.hist
        if not self.count:
            return {"count": 0, "min_ns": 0, "max_ns": 0, "mean_ns": 0.0,
                    **{_pname(p): 0 for p in PERCENTILES}}
        median = _bucket_values(h)[2]
        mean = float(np.dot(self.counts.astype(np.float64), median) / self.count)
        return {"count": self.count, "min_ns": h.get_min_value(), "max_ns": h.get_max_value(),
                "mean_ns": mean, **dict(zip(map(_pname, PERCENTILES), self.percentiles(PERCENTILES)))}

    def to_blob(self) -> bytes:
        """The compressed HdrHistogram V2 encoding (base64-decoded)."""
        return base64.b64decode(self.hist.encode())

    @classmethod
    def from_blob(cls, blob: bytes) -> LatencyHistogram:
        fresh = cls()
        fresh.hist.decode_and_add(base64.b64encode(blob))
        return fresh


def _bucket_values(hist: HdrHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _bucket_table(hist.counts_len, hist.sub_bucket_half_count_magnitude,
                         hist.unit_magnitude)


@functools.cache
def _bucket_table(counts_len: int, half_magnitude: int, unit_magnitude: int):
    """Lowest, highest and median equivalent value of every counts index, as hdrh defines them."""
    index = np.arange(counts_len, dtype=np.int64)
    half = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub = (index & (half - 1)) + half
    first = bucket < 0
    sub[first] -= half
    bucket[first] = 0
    lowest = sub << (bucket + unit_magnitude)
    size = np.left_shift(1, bucket + unit_magnitude)
    return lowest, lowest + size - 1, lowest + (size >> 1)


def _pname(p: float) -> str:
    return "p" + f"{p:g}".replace(".", "_") + "_ns"


def sparse_counts(hist: LatencyHistogram) -> tuple[np.ndarray, np.ndarray]:
    """(bucket indices, counts) of the non-empty buckets: a tick's histogram kept small."""
    index = np.flatnonzero(hist.counts)
    return index, hist.counts[index].copy()


def bucket_highest_values(index: np.ndarray) -> np.ndarray:
    """The highest value (ns) each bucket index stands for, as percentiles report it."""
    h = LatencyHistogram().hist
    return _bucket_values(h)[1][index]


def target_count(total: np.ndarray, p: float) -> np.ndarray:
    """hdrh's count at percentile p: round(p% of total), at least 1."""
    return np.maximum(np.floor(total * (p / 100.0) + 0.5), 1)
