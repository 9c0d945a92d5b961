"""HDR latency histograms in integer nanoseconds, stored losslessly as HdrHistogram V2 blobs.

The compiled core records straight into `counts`, a numpy view of the hdrhistogram package's own
counts array, so every histogram still encodes to a standard V2 blob that any HdrHistogram
implementation can read and merge.
"""

from __future__ import annotations

import base64

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

    @property
    def count(self) -> int:
        return self.hist.get_total_count()

    def add(self, other: "LatencyHistogram") -> "LatencyHistogram":
        if other.count:
            self.hist.add(other.hist)
        return self

    def percentile(self, p: float) -> int:
        return self.hist.get_value_at_percentile(p)

    def summary(self) -> dict[str, float]:
        """count, min, max, mean and PERCENTILES, in ns (0 for an empty histogram)."""
        h = self.hist
        if not self.count:
            return {"count": 0, "min_ns": 0, "max_ns": 0, "mean_ns": 0.0,
                    **{_pname(p): 0 for p in PERCENTILES}}
        return {"count": self.count, "min_ns": h.get_min_value(), "max_ns": h.get_max_value(),
                "mean_ns": float(h.get_mean_value()),
                **{_pname(p): h.get_value_at_percentile(p) for p in PERCENTILES}}

    def to_blob(self) -> bytes:
        """The compressed HdrHistogram V2 encoding (base64-decoded)."""
        return base64.b64decode(self.hist.encode())

    @classmethod
    def from_blob(cls, blob: bytes) -> "LatencyHistogram":
        fresh = cls()
        fresh.hist.decode_and_add(base64.b64encode(blob))
        return fresh


def _pname(p: float) -> str:
    return "p" + f"{p:g}".replace(".", "_") + "_ns"
