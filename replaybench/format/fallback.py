"""The core's functions in Python and numpy: identical results, far slower.

Used when the compiled extension is not built (core.py warns). Every function here has the
signature of its twin in ext/core.pyx, and the tests run both over the same inputs.
"""

from __future__ import annotations

from confluent_kafka import KafkaError

from replaybench.format import records
from replaybench.format.checksum import rb64
from replaybench.format.counters import FOLD_COUNTERS, FOREIGN_COUNTERS, STATUS_COUNTER

_C = {name: i for i, name in enumerate(FOLD_COUNTERS)}
_F = {name: i for i, name in enumerate(FOREIGN_COUNTERS)}


def record_values(hist, counts, values, counters) -> None:
    for value in values.tolist():
        _record(hist, value, counters)


def _record(hist, value: int, counters) -> None:
    if value < 0 or value > hist.highest_trackable_value:
        counters[_C["latency_clamped"]] += 1
        value = 0 if value < 0 else hist.highest_trackable_value
    hist.record_value(value)
    counters[_C["latency_recorded"]] += 1


def _fold_one(state, row, key, value, partition, offset, columns, hist, now_ns) -> None:
    versions, live, next_offset, counters = state
    key_id = records.key_id_of(key)
    status, header = records.classify(key, value)
    if status in (records.STATUS_OK, records.STATUS_TOMBSTONE) and key_id >= len(versions):
        status = records.STATUS_KEY_OUT_OF_RANGE
    counters[_C["records"]] += 1
    counters[_C["bytes"]] += (len(key) if key is not None else 0) + (len(value) if value else 0)
    counters[STATUS_COUNTER[status]] += 1
    if offset >= 0 and 0 <= partition < len(next_offset):
        expected = int(next_offset[partition])
        if expected >= 0 and offset > expected:
            counters[_C["offset_gaps"]] += 1
            counters[_C["gap_offsets"]] += offset - expected
        elif expected >= 0 and offset < expected:
            counters[_C["rewinds"]] += 1
        next_offset[partition] = offset + 1
    version = intended = 0
    if status == records.STATUS_OK:
        version, intended = int(header["key_version"]), int(header["intended_send_ns"])
        last = int(versions[key_id])
        if version > last:
            versions[key_id], live[key_id] = version, 1
        elif version == last:
            counters[_C["duplicates"]] += 1
        else:
            counters[_C["regressions"]] += 1
        if hist is not None:
            _record(hist, now_ns - intended, counters)
    elif status == records.STATUS_TOMBSTONE:
        live[key_id] = 0
    if columns is not None:
        wrapped = key_id - (1 << 64) if key_id >= 1 << 63 else key_id  # as int64, like the core
        columns.set_row(row, offset, partition, wrapped, version, intended,
                        -1 if value is None else len(value), status)


def fold_messages(messages, versions, live, next_offset, counters, now_ns=0, hist=None,
                  hist_counts=None, columns=None) -> None:
    if columns is not None and columns.capacity < len(messages):
        raise ValueError(f"columns hold {columns.capacity} rows, batch has {len(messages)}")
    state = (versions, live, next_offset, counters)
    for i, msg in enumerate(messages):
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:   # flow, not failure
                counters[_C["errors"]] += 1
            if columns is not None:
                columns.set_row(i, -1, -1, 0, 0, 0, 0, records.STATUS_ERROR)
            continue
        offset = msg.offset()
        _fold_one(state, i, msg.key(), msg.value(), msg.partition(),
                  -1 if offset is None else offset, columns,
                  hist, now_ns)


def fold_buffer(data, starts, lengths, key_ids, partitions, offsets, versions, live,
                next_offset, counters) -> None:
    state = (versions, live, next_offset, counters)
    raw = bytes(data)
    for i in range(len(starts)):
        key = int(key_ids[i]).to_bytes(8, "big") if key_ids[i] >= 0 else None
        length = int(lengths[i])
        value = None if length < 0 else raw[int(starts[i]):int(starts[i]) + length]
        _fold_one(state, i, key, value, int(partitions[i]), int(offsets[i]), None, None, 0)


def keyset_rehash(old, old_dead, new, new_dead) -> None:
    mask = len(new) - 1
    for i in (old != 0).nonzero()[0].tolist():
        slot, _ = _keyset_slot(new, mask, int(old[i]))
        new_dead[slot] = old_dead[i]


def _keyset_slot(table, mask: int, h: int) -> tuple[int, bool]:
    h = h or 1
    i = h & mask
    while table[i] != 0:
        if table[i] == h:
            return i, False
        i = (i + 1) & mask
    table[i] = h
    return i, True


def _partition_key_hash(key: bytes, partition: int) -> int:
    return (rb64(key) + (partition + 1) * 0x9E3779B97F4A7C15) & ((1 << 64) - 1)


def fold_foreign(messages, table, dead, next_offset, limits, part_keys, part_dead, counters,
                 columns=None) -> None:
    if columns is not None and columns.capacity < len(messages):
        raise ValueError(f"columns hold {columns.capacity} rows, batch has {len(messages)}")
    mask = len(table) - 1
    for i, msg in enumerate(messages):
        err, partition = msg.error(), msg.partition()
        partition = -1 if partition is None else partition
        in_range = 0 <= partition < len(next_offset)
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF and in_range and msg.offset() is not None:
                _advance(next_offset, partition, min(msg.offset(), int(limits[partition])),
                         counters, record=False)
            else:
                counters[_F["errors"]] += 1
            if columns is not None:
                columns.set_row(i, -1, -1, 0, 0, 0, 0, records.STATUS_ERROR)
            continue
        offset = -1 if msg.offset() is None else msg.offset()
        if in_range and offset >= limits[partition]:
            if columns is not None:
                columns.set_row(i, -1, -1, 0, 0, 0, 0, records.STATUS_ERROR)
            continue
        key, value = msg.key(), msg.value()
        tomb = value is None
        size = (len(key) if key is not None else 0) + (0 if tomb else len(value))
        counters[_F["records"]] += 1
        counters[_F["bytes"]] += size
        counters[_F["tombstones"]] += tomb
        if offset >= 0 and in_range:
            _advance(next_offset, partition, offset + 1, counters, record=True)
        if key is None:
            counters[_F["null_keys"]] += 1
        else:
            _count_key(table, dead, mask, _partition_key_hash(key, partition), tomb, partition,
                       in_range, part_keys, part_dead, counters)
        if columns is not None:
            columns.set_row(i, offset, partition, 0, 0, 0, size,
                            records.STATUS_TOMBSTONE if tomb else records.STATUS_OK)


def _count_key(table, dead, mask, h, tomb, partition, in_range, part_keys, part_dead,
               counters) -> None:
    slot, added = _keyset_slot(table, mask, h)
    if added:
        counters[_F["distinct_keys"]] += 1
        if in_range:
            part_keys[partition] += 1
    if added or bool(dead[slot]) != tomb:
        delta = int(tomb) if added else (1 if tomb else -1)
        counters[_F["dead_keys"]] += delta
        if in_range:
            part_dead[partition] += delta
        dead[slot] = tomb


def _advance(next_offset, partition: int, upto: int, counters, record: bool) -> None:
    """As in core.pyx: offsets jumped over are a gap, a record behind the position a rewind."""
    expected = int(next_offset[partition])
    at = upto - 1 if record else upto
    if expected >= 0 and at > expected:
        counters[_F["offset_gaps"]] += 1
        counters[_F["gap_offsets"]] += at - expected
    elif expected >= 0 and record and at < expected:
        counters[_F["rewinds"]] += 1
    if upto > expected or record:
        next_offset[partition] = upto


def encode_values(out, key_ids, versions, intended_ns, sequences, producer_id, pool, flags) -> None:
    n, size = out.shape
    if size < records.HEADER_BYTES:
        raise ValueError(f"value size {size} is below the {records.HEADER_BYTES}-byte header")
    if len(pool) < size - records.HEADER_BYTES:
        raise ValueError(f"payload pool of {len(pool)} bytes is below the payload "
                         f"{size - records.HEADER_BYTES}")
    records.encode_values_py(out, key_ids, versions, intended_ns, sequences, producer_id, pool,
                             flags)


def checksum(data) -> int:
    return rb64(bytes(data))

