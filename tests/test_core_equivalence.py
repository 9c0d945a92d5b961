"""The compiled core and the Python fallback agree on every input, good or corrupt."""

import numpy as np
import pytest
from confluent_kafka import KafkaError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replaybench import _core
from replaybench.format import core, fallback, records
from replaybench.format.counters import FOLD_COUNTERS, FOREIGN_COUNTERS, STATUS_COUNTER
from replaybench.format.histograms import LatencyHistogram

from tests.changelog import encode
from tests.fakes import FakeError, FakeMessage

N_KEYS = 64
N_PARTITIONS = 3


def test_compiled_constants_match_the_python_definitions():
    c = _core.constants()
    assert c["fold"] == list(range(len(FOLD_COUNTERS)))
    assert c["foreign"] == list(range(len(FOREIGN_COUNTERS)))
    assert c["status"] == list(range(len(records.STATUS_NAMES)))
    assert c["header_bytes"] == records.HEADER_BYTES
    assert c["format_version"] == records.FORMAT_VERSION


@given(st.binary(max_size=200))
def test_checksum_matches(data):
    assert _core.checksum(data) == fallback.checksum(data)


@st.composite
def messages(draw):
    """A batch mixing good records with every kind of damage the core must classify."""
    n = draw(st.integers(0, 40))
    out = []
    offsets = [0] * N_PARTITIONS
    for _ in range(n):
        partition = draw(st.integers(0, N_PARTITIONS))  # N_PARTITIONS itself: untracked
        key_id = draw(st.one_of(st.integers(0, N_KEYS + 3), st.integers(2**63, 2**64 - 1)))
        kind = draw(st.sampled_from(["good", "good", "good", "tombstone", "truncate", "flip",
                                     "magic", "version", "short_key", "wrong_key", "foreign",
                                     "error", "eof", "no_key"]))
        version = draw(st.integers(0, 6))
        value = bytes(encode([key_id % 2**63], [version], [draw(st.integers(0, 10**12))],
                             value_size=draw(st.integers(48, 90)))[0])
        value = value[:8] + key_id.to_bytes(8, "little") + value[16:]
        value = value[:0] + fallback.checksum(value[4:]).to_bytes(8, "little")[:4] + value[4:]
        key = key_id.to_bytes(8, "big")
        if kind == "tombstone":
            value = None
        elif kind == "truncate":
            value = value[:draw(st.integers(0, len(value) - 1))]
        elif kind == "flip":
            i = draw(st.integers(0, len(value) - 1))
            value = value[:i] + bytes([value[i] ^ (1 << draw(st.integers(0, 7)))]) + value[i + 1:]
        elif kind == "magic":
            value = value[:4] + b"XX" + value[6:]
        elif kind == "version":
            value = value[:6] + b"\x02" + value[7:]
        elif kind == "short_key":
            key = key[:draw(st.integers(0, 7))]
        elif kind == "wrong_key":
            key = (key_id + 1).to_bytes(8, "big") if key_id < 2**64 - 1 else bytes(8)
        elif kind == "foreign":
            value = draw(st.binary(max_size=120))
        elif kind == "no_key":
            key = None
        step = draw(st.sampled_from([1, 1, 1, 2, 5, 0, -1]))
        offsets[partition % N_PARTITIONS] += step
        # a transport error, and the end of a partition (not counted as an error)
        error = {"error": FakeError(KafkaError._TRANSPORT),
                 "eof": FakeError(KafkaError._PARTITION_EOF)}.get(kind)
        out.append(FakeMessage(key, value, partition, max(offsets[partition % N_PARTITIONS], 0),
                               error))
    return out


def _fold(impl, batches, now_ns):
    state = core.StateTable(N_KEYS, N_PARTITIONS, impl=impl)
    latency = LatencyHistogram()
    cols = []
    for batch in batches:
        columns = core.Columns(max(len(batch), 1))
        state.fold(batch, now_ns=now_ns, latency=latency, columns=columns)
        cols.append(columns.as_dict(len(batch)))
    return state, latency, cols


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages(), min_size=1, max_size=4), st.integers(0, 2 * 10**12))
def test_fold_agrees_on_random_and_corrupt_batches(batches, now_ns):
    got, got_lat, got_cols = _fold(_core, batches, now_ns)
    want, want_lat, want_cols = _fold(fallback, batches, now_ns)
    assert got.counts() == want.counts()
    np.testing.assert_array_equal(got.versions, want.versions)
    np.testing.assert_array_equal(got.live, want.live)
    np.testing.assert_array_equal(got.next_offset, want.next_offset)
    np.testing.assert_array_equal(got_lat.counts, want_lat.counts)
    assert got_lat.summary() == want_lat.summary()
    for g, w in zip(got_cols, want_cols):
        for name in g:
            np.testing.assert_array_equal(g[name], w[name], err_msg=name)
    # every message is a record or an error, ends of partitions aside
    total = sum(m.error_ is None or m.error_.code() != KafkaError._PARTITION_EOF
                for b in batches for m in b)
    c = got.counters
    assert c[FOLD_COUNTERS.index("records")] + c[FOLD_COUNTERS.index("errors")] == total
    assert sum(c[i] for i in STATUS_COUNTER) == total


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.binary(max_size=4)),
                          st.one_of(st.none(), st.binary(max_size=30)), st.integers(0, 2),
                          st.integers(1, 3), st.booleans()),
                max_size=300))
def test_foreign_counts_agree_and_are_exact(items):
    """Against a plain model: per (partition, key) the last record decides dead or alive;
    offsets advance by 1-3 (the skipped ones are gaps); an end-of-partition event that moves
    past the last record (a transaction marker there) is a gap too, and not an error."""
    batch, next_offset = [], [0, 0, 0]
    for key, value, partition, step, eof in items:
        offset = next_offset[partition] + step - 1
        next_offset[partition] = offset + 1
        batch.append(FakeMessage(key, value, partition, offset))
        if eof:
            next_offset[partition] += 1
            batch.append(FakeMessage(None, None, partition, next_offset[partition],
                                     error_=FakeError(KafkaError._PARTITION_EOF)))
    batch.append(FakeMessage(b"k", b"v", 0, 0, error_=FakeError(1)))   # a real error
    # records at or past a partition's limit (written after the targets) are not counted
    limit = next_offset[1]
    batch += [FakeMessage(b"late", b"v", 1, limit + i) for i in range(3)]
    got = core.ForeignState(3, impl=_core, initial_slots=8)
    want = core.ForeignState(3, impl=fallback, initial_slots=8)
    for state in (got, want):
        state.set_limits({1: limit})
    for chunk in (batch[: len(batch) // 2], batch[len(batch) // 2:]):
        got.fold(chunk)
        want.fold(chunk)
    assert got.counts() == want.counts()
    np.testing.assert_array_equal(got.partition_keys, want.partition_keys)
    np.testing.assert_array_equal(got.partition_dead_keys, want.partition_dead_keys)
    last: dict[tuple[int, bytes], bool] = {}
    records = [m for m in batch if m.error_ is None and m.key_ != b"late"]
    for m in records:
        if m.key_ is not None:
            last[(m.partition_, m.key_)] = m.value_ is None
    c = got.counts()
    assert c["distinct_keys"] == len(last) == got.partition_keys.sum()
    assert c["dead_keys"] == sum(last.values()) == got.partition_dead_keys.sum()
    assert c["tombstones"] == sum(m.value_ is None for m in records)
    assert c["errors"] == 1 and c["rewinds"] == 0
    first = {p: min((m.offset_ for m in records if m.partition_ == p), default=None)
             for p in range(3)}
    for p in range(3):
        if first[p] is not None:
            assert got.next_offset[p] == next_offset[p]
    assert c["gap_offsets"] == sum(next_offset[p] - first[p] - sum(
        m.partition_ == p for m in records) for p in range(3) if first[p] is not None)


@given(st.integers(1, 50), st.integers(48, 300), st.booleans())
@settings(max_examples=50, deadline=None)
def test_encoders_agree_and_decode_as_good(n, size, random_payload):
    rng = np.random.default_rng(n)
    keys, versions = rng.integers(0, 2**40, n), rng.integers(1, 2**40, n)
    intended = rng.integers(0, 2**62, n)
    a = encode(keys, versions, intended, size, random_payload, impl=_core)
    b = encode(keys, versions, intended, size, random_payload, impl=fallback)
    np.testing.assert_array_equal(a, b)
    for i in range(n):
        status, header = records.classify(records.encode_keys(keys[i:i + 1])[0].tobytes(),
                                          a[i].tobytes())
        assert status == records.STATUS_OK
        assert (header["key_id"], header["key_version"], header["intended_send_ns"]) == (
            keys[i], versions[i], intended[i])


def test_encoder_rejects_a_value_smaller_than_the_header():
    with pytest.raises(ValueError, match="value size 40 is below the 48-byte header"):
        encode([1], [1], [0], value_size=40)


def test_repeated_payload_compresses_and_random_does_not():
    import zlib
    rnd = encode(np.arange(200), np.ones(200), np.zeros(200), 1000, True).tobytes()
    rep = encode(np.arange(200), np.ones(200), np.zeros(200), 1000, False).tobytes()
    assert len(zlib.compress(rep)) < len(rep) / 5
    assert len(zlib.compress(rnd)) > len(rnd) * 0.9


@pytest.mark.parametrize("impl", [_core, fallback])
def test_an_unknown_offset_is_folded_without_offset_tracking(impl):
    """Some brokers ack a retried produce without an offset (confluent-kafka gives None)."""
    value = encode([7], [3], [1_000])[0].tobytes()
    key = (7).to_bytes(8, "big")
    state = core.StateTable(N_KEYS, N_PARTITIONS, impl=impl)
    latency, columns = LatencyHistogram(), core.Columns(1)
    state.fold([FakeMessage(key, value, 1, None)], now_ns=5_000, latency=latency, columns=columns)
    counts = state.counts()
    assert (counts["records"], counts["ok"], counts["offset_gaps"], counts["rewinds"]) == (1, 1, 0, 0)
    assert state.next_offset[1] == -1 and state.versions[7] == 3 and latency.count == 1
    assert columns.offset[0] == -1


@pytest.mark.parametrize("impl", [_core, fallback])
def test_the_end_of_a_partition_is_not_an_error_and_a_real_error_is(impl):
    """Whether a client delivers an end-of-partition event depends on when it fetched (the
    native consumer and confluent-kafka disagreed on a loaded machine): it is not counted."""
    value = encode([7], [3], [1_000])[0].tobytes()
    key = (7).to_bytes(8, "big")
    state = core.StateTable(N_KEYS, N_PARTITIONS, impl=impl)
    state.fold([FakeMessage(key, value, 1, 0),
                FakeMessage(None, None, 1, 1, error_=FakeError(KafkaError._PARTITION_EOF))],
               columns=core.Columns(2))
    assert (state.counts()["records"], state.counts()["errors"]) == (1, 0)
    state.fold([FakeMessage(None, None, 1, 1, error_=FakeError(1))], columns=core.Columns(1))
    assert state.counts()["errors"] == 1
