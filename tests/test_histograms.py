"""Histograms the core writes are standard HdrHistogram V2: plain hdrh reads and merges them."""

import base64

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from replaybench import _core
from replaybench.format import core
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.format.histograms import HIGHEST_NS, PERCENTILES, LatencyHistogram

from tests.changelog import encode
from tests.fakes import FakeMessage


def _straddles(hist: HdrHistogram, values: np.ndarray, p: float, reported: int) -> bool:
    """True if the HDR bucket holding `reported` contains the p-th percentile rank of the raw
    values (one count of slack for hdrh's rounding of the target count)."""
    rank = p / 100 * len(values)
    below = int((values < hist.get_lowest_equivalent_value(reported)).sum())
    at_or_below = int((values <= hist.get_highest_equivalent_value(reported)).sum())
    return below - 1 <= rank <= at_or_below + 1


@pytest.mark.parametrize("scale", [1e3, 1e6, 1e9])
def test_core_recorded_histogram_decodes_to_the_raw_percentiles(scale):
    rng = np.random.default_rng(int(scale))
    values = (rng.lognormal(0, 1.5, 200_000) * scale).astype(np.int64) + 1
    recorded = LatencyHistogram()
    counters = np.zeros(len(FOLD_COUNTERS), np.int64)
    core.record_latencies(recorded, values, counters, impl=_core)

    plain = HdrHistogram.decode(base64.b64encode(recorded.to_blob()))  # no replaybench involved
    assert plain.get_total_count() == len(values)
    for p in PERCENTILES + (100.0,):
        got = plain.get_value_at_percentile(p)
        assert _straddles(plain, values, p, got), (p, got)
        assert abs(got - np.percentile(values, p)) <= 0.01 * got
    assert plain.get_min_value() == plain.get_lowest_equivalent_value(values.min())
    assert plain.values_are_equivalent(plain.get_max_value(), values.max())


def test_blobs_merge_with_histograms_hdrh_recorded_itself():
    ours = LatencyHistogram()
    core.record_latencies(ours, np.arange(1, 1001, dtype=np.int64) * 1000,
                          np.zeros(len(FOLD_COUNTERS), np.int64))
    theirs = HdrHistogram(1, HIGHEST_NS, 3)
    for v in range(1001, 2001):
        theirs.record_value(v * 1000)
    theirs.decode_and_add(base64.b64encode(ours.to_blob()))
    assert theirs.get_total_count() == 2000
    assert theirs.values_are_equivalent(theirs.get_value_at_percentile(50), 1_000_000)


def test_out_of_range_latencies_are_clamped_and_counted():
    h = LatencyHistogram()
    counters = np.zeros(len(FOLD_COUNTERS), np.int64)
    core.record_latencies(h, np.array([-5, 10, HIGHEST_NS * 2], np.int64), counters)
    assert h.count == 3
    assert counters[FOLD_COUNTERS.index("latency_clamped")] == 2
    assert h.hist.get_min_value() == 0
    assert h.hist.values_are_equivalent(h.hist.get_max_value(), HIGHEST_NS)


def test_fold_records_end_to_end_latency_from_intended_send_time():
    intended = np.array([1_000, 2_000, 3_000], np.int64)
    values = encode([0, 1, 2], [1, 1, 1], intended)
    batch = [FakeMessage(k.to_bytes(8, "big"), bytes(v), 0, i)
             for i, (k, v) in enumerate(zip([0, 1, 2], values))]
    state, latency = core.StateTable(3, 1), LatencyHistogram()
    state.fold(batch, now_ns=1_000_000, latency=latency)
    assert latency.count == 3
    assert latency.hist.values_are_equivalent(latency.hist.get_min_value(), 997_000)
    assert latency.hist.values_are_equivalent(latency.hist.get_max_value(), 999_000)
