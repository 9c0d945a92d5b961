"""Issue 3's performance targets, measured side by side in one run.

    python -m pytest benchmarks --benchmark-enable
"""

import numpy as np
import pytest
from confluent_kafka import Consumer, TopicPartition

from replaybench import _core
from replaybench.format import core, fallback
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.format.histograms import LatencyHistogram
from replaybench.roles.seeder import ChangelogSeeder, SeedSpec, plan_changelog

from benchmarks.conftest import RESULTS
from tests.changelog import encode
from tests.kafka_helpers import create_topic

VALUE_BYTES = 100
KEYS = 1_000_000


@pytest.fixture(scope="module")
def contiguous():
    """2 M records of 100 bytes over 1 M keys (every key once, then random updates), 1% tombstones."""
    key_ids, versions, tomb = plan_changelog(SeedSpec("b", KEYS, 2 * KEYS, VALUE_BYTES,
                                                      tombstone_ratio=0.01, seed=1))
    data = encode(key_ids, versions, np.zeros(len(key_ids)), VALUE_BYTES).reshape(-1)
    n = len(key_ids)
    starts = np.arange(n, dtype=np.int64) * VALUE_BYTES
    lengths = np.where(tomb, -1, VALUE_BYTES).astype(np.int32)
    return data, starts, lengths, key_ids, np.zeros(n, np.int32), np.arange(n, dtype=np.int64)


def _fold_all(impl, args, limit=None):
    data, starts, lengths, key_ids, parts, offsets = args
    sl = slice(0, limit)
    state = core.StateTable(KEYS, 1, impl=impl)
    state.fold_buffer(data, starts[sl], lengths[sl], key_ids[sl], parts[sl], offsets[sl])
    return state


def test_fold_contiguous_buffer(benchmark, contiguous):
    state = benchmark.pedantic(_fold_all, args=(_core, contiguous), rounds=5, iterations=1)
    assert state.counts()["ok"] + state.counts()["tombstones"] == 2 * KEYS
    RESULTS["fold_buffer"] = benchmark.stats.stats.median / (2 * KEYS)


def test_fold_contiguous_buffer_fallback(benchmark, contiguous):
    n = 20_000
    state = benchmark.pedantic(_fold_all, args=(fallback, contiguous, n), rounds=3, iterations=1)
    assert state.counts()["records"] == n
    RESULTS["fold_buffer_fallback"] = benchmark.stats.stats.median / n


def test_hdr_record_array(benchmark):
    values = np.random.default_rng(0).lognormal(13, 1.5, 5_000_000).astype(np.int64)
    counters = np.zeros(len(FOLD_COUNTERS), np.int64)

    def run():
        core.record_latencies(LatencyHistogram(), values, counters, impl=_core)

    benchmark.pedantic(run, rounds=5, iterations=1)
    RESULTS["hdr_record"] = benchmark.stats.stats.median / len(values)


def test_hdr_record_with_hdrh_loop(benchmark):
    values = np.random.default_rng(0).lognormal(13, 1.5, 100_000).astype(np.int64).tolist()

    def run():
        h = LatencyHistogram().hist
        for v in values:
            h.record_value(v)

    benchmark.pedantic(run, rounds=3, iterations=1)
    RESULTS["hdr_record_hdrh"] = benchmark.stats.stats.median / len(values)


BROKER_RECORDS = 500_000


@pytest.fixture(scope="module")
def seeded_topic(kafka1):
    topic = "bench-core"
    create_topic(kafka1.bootstrap, topic, 1, 1)
    ChangelogSeeder(kafka1.client_config(), SeedSpec(topic, 100_000, BROKER_RECORDS,
                                                     VALUE_BYTES)).run()
    return kafka1, topic


def _read(cluster, topic, fold: bool):
    c = Consumer({**cluster.client_config(), "group.id": "bench", "enable.auto.commit": False,
                  "fetch.max.bytes": 64 << 20, "max.partition.fetch.bytes": 8 << 20,
                  "queued.max.messages.kbytes": 256 << 10})
    c.assign([TopicPartition(topic, 0, 0)])
    state = core.StateTable(100_000, 1)
    seen = 0
    while seen < BROKER_RECORDS:
        batch = c.consume(2_000, timeout=1.0)
        if fold:
            state.fold(batch)
        seen += len(batch)
    c.close()
    return state


def test_consume_plain(benchmark, seeded_topic):
    benchmark.pedantic(_read, args=(*seeded_topic, False), rounds=3, iterations=1, warmup_rounds=1)
    RESULTS["consume_plain"] = benchmark.stats.stats.median / BROKER_RECORDS


def test_consume_and_fold(benchmark, seeded_topic):
    state = benchmark.pedantic(_read, args=(*seeded_topic, True), rounds=3, iterations=1,
                               warmup_rounds=1)
    assert state.counts()["ok"] == BROKER_RECORDS
    RESULTS["consume_fold"] = benchmark.stats.stats.median / BROKER_RECORDS


def test_fold_real_batches_in_memory(benchmark, seeded_topic):
    """The fold alone over real Message objects (consumed once, kept in memory): its CPU cost per
    message, which the consume() comparison above may hide behind fetch waits."""
    cluster, topic = seeded_topic
    c = Consumer({**cluster.client_config(), "group.id": "bench-mem"})
    c.assign([TopicPartition(topic, 0, 0)])
    batches, seen = [], 0
    while seen < BROKER_RECORDS:
        batch = c.consume(2_000, timeout=1.0)
        batches.append(batch)
        seen += len(batch)
    c.close()

    def run():
        state = core.StateTable(100_000, 1)
        for batch in batches:
            state.fold(batch)
        return state

    state = benchmark.pedantic(run, rounds=5, iterations=1)
    assert state.counts()["ok"] == BROKER_RECORDS
    RESULTS["fold_real"] = benchmark.stats.stats.median / BROKER_RECORDS
