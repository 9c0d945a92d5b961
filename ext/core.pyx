# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""replaybench's compiled core: the per-record work of a restore, in one call per batch.

replaybench/format/core.py is the Python face; replaybench/format/fallback.py is the same logic in numpy and
Python, and the tests hold both to identical results. Counter order: replaybench/format/counters.py.
"""

from confluent_kafka import KafkaError
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t, INT64_MAX

include "fold.pxi"

cdef enum:  # counters.FOREIGN_COUNTERS order
    F_RECORDS = 0, F_BYTES, F_TOMBSTONES, F_NULL_KEYS, F_ERRORS, F_DISTINCT, F_DEAD,
    F_OFFSET_GAPS, F_GAP_OFFSETS, F_REWINDS

def constants() -> dict:
    """The compiled enum values, for tests that hold them to counters.py and records.py."""
    return {"fold": [C_RECORDS, C_BYTES, C_OK, C_TOMBSTONES, C_TRUNCATED, C_BAD_MAGIC,
                     C_BAD_VERSION, C_BAD_CHECKSUM, C_BAD_KEY, C_KEY_OUT_OF_RANGE, C_ERRORS,
                     C_DUPLICATES, C_REGRESSIONS, C_OFFSET_GAPS, C_GAP_OFFSETS, C_REWINDS,
                     C_LATENCY_RECORDED, C_LATENCY_CLAMPED],
            "status": [S_OK, S_TOMBSTONE, S_TRUNCATED, S_BAD_MAGIC, S_BAD_VERSION,
                       S_BAD_CHECKSUM, S_BAD_KEY, S_KEY_OUT_OF_RANGE, S_ERROR],
            "foreign": [F_RECORDS, F_BYTES, F_TOMBSTONES, F_NULL_KEYS, F_ERRORS, F_DISTINCT,
                        F_DEAD, F_OFFSET_GAPS, F_GAP_OFFSETS, F_REWINDS],
            "header_bytes": HEADER_BYTES, "format_version": FORMAT_VERSION}



def record_values(hist, int64_t[::1] counts not None, const int64_t[::1] values not None,
                  int64_t[::1] counters not None) -> None:
    """Record every value into hist (an hdrh.histogram.HdrHistogram whose counts array is
    `counts`, a numpy view of it). Values outside [0, highest] are clamped and counted."""
    cdef Hdr h
    cdef Py_ssize_t i
    cdef int64_t before = counters[C_LATENCY_RECORDED]
    hdr_open(&h, hist, counts)
    with nogil:
        for i in range(values.shape[0]):
            hdr_record(&h, values[i], &counters[0])
    hdr_close(&h, hist, counters[C_LATENCY_RECORDED] - before)


def fold_messages(list messages not None, int64_t[::1] versions not None,
                  uint8_t[::1] live not None, int64_t[::1] next_offset not None,
                  int64_t[::1] counters not None, int64_t now_ns=0, hist=None,
                  int64_t[::1] hist_counts=None, columns=None) -> None:
    """Decode, verify and fold confluent-kafka Messages as Consumer.consume() returns them.

    With hist (and its counts view), the end-to-end latency now_ns - intended_send_ns of each
    good record is recorded. With columns (a core.Columns of capacity >= len(messages)), each
    message's fields land in row i.
    """
    cdef Fold f
    cdef Hdr h
    cdef Py_ssize_t i, n = len(messages), vlen, klen
    cdef uint64_t key_id
    cdef int64_t before
    cdef bint key_ok
    cdef object msg, key, value, off
    cdef const uint8_t* vptr
    if columns is not None and columns.capacity < n:
        raise ValueError(f"columns hold {columns.capacity} rows, batch has {n}")
    fold_open(&f, versions, live, next_offset, counters, now_ns, columns)
    if hist is not None:
        hdr_open(&h, hist, hist_counts)
        f.hdr = &h
    before = counters[C_LATENCY_RECORDED]
    for i in range(n):
        msg = messages[i]
        if msg.error() is not None:
            # the end of a partition is not an error: whether a client delivers one depends
            # on when it fetched, and the two clients must count the same
            if msg.error().code() != KafkaError._PARTITION_EOF:
                counters[C_ERRORS] += 1
            if f.col_status != NULL:
                f.col_status[i] = S_ERROR
                f.col_offset[i] = -1
                f.col_partition[i] = -1
            continue
        key = msg.key()
        value = msg.value()
        klen = PyBytes_GET_SIZE(key) if key is not None else 0
        key_ok = klen == 8
        key_id = rb_load_be64(<const uint8_t*>PyBytes_AS_STRING(key)) if key_ok else 0
        if value is None:
            vptr = NULL
            vlen = -1
        else:
            vptr = <const uint8_t*>PyBytes_AS_STRING(value)
            vlen = PyBytes_GET_SIZE(value)
        off = msg.offset()  # None when the broker did not say (some acks after a retry)
        fold_one(&f, i, vptr, vlen, key_id, key_ok, klen, msg.partition(),
                 -1 if off is None else off)
    if hist is not None:
        hdr_close(&h, hist, counters[C_LATENCY_RECORDED] - before)


def fold_buffer(const uint8_t[::1] data not None, const int64_t[::1] starts not None,
                const int32_t[::1] lengths not None, const int64_t[::1] key_ids not None,
                const int32_t[::1] partitions not None, const int64_t[::1] offsets not None,
                int64_t[::1] versions not None, uint8_t[::1] live not None,
                int64_t[::1] next_offset not None, int64_t[::1] counters not None) -> None:
    """The same fold over values laid out in one buffer: value i is data[starts[i]:][:lengths[i]]
    (length -1: tombstone), with its key id already taken from the key (-1: bad key)."""
    cdef Fold f
    cdef Py_ssize_t i, n = starts.shape[0]
    fold_open(&f, versions, live, next_offset, counters, 0, None)
    with nogil:
        for i in range(n):
            fold_one(&f, i, &data[0] + starts[i], lengths[i], <uint64_t>key_ids[i],
                     key_ids[i] >= 0, 8 if key_ids[i] >= 0 else 0, partitions[i], offsets[i])


# ---- foreign mode: records of a topic replaybench did not write -------------------------------

cdef inline Py_ssize_t keyset_slot(uint64_t* table, uint64_t mask, uint64_t h,
                                   bint* added) noexcept nogil:
    """Open addressing, linear probing; 0 marks an empty slot. The slot of h, added if new."""
    cdef uint64_t i
    if h == 0:
        h = 1
    i = h & mask
    while table[i] != 0:
        if table[i] == h:
            added[0] = False
            return i
        i = (i + 1) & mask
    table[i] = h
    added[0] = True
    return i


def keyset_rehash(const uint64_t[::1] old not None, const uint8_t[::1] old_dead not None,
                  uint64_t[::1] new not None, uint8_t[::1] new_dead not None) -> None:
    cdef Py_ssize_t i, slot
    cdef bint added
    cdef uint64_t mask = new.shape[0] - 1
    for i in range(old.shape[0]):
        if old[i] != 0:
            slot = keyset_slot(&new[0], mask, old[i], &added)
            new_dead[slot] = old_dead[i]


cdef inline uint64_t partition_key_hash(const uint8_t* key, Py_ssize_t klen,
                                        int32_t partition) noexcept nogil:
    """A key counts once per partition, as a state store's partition holds it."""
    return rb64(key, klen) + <uint64_t>(partition + 1) * <uint64_t>0x9E3779B97F4A7C15


def fold_foreign(list messages not None, uint64_t[::1] table not None,
                 uint8_t[::1] dead not None, int64_t[::1] next_offset not None,
                 const int64_t[::1] limits not None,
                 int64_t[::1] part_keys not None, int64_t[::1] part_dead not None,
                 int64_t[::1] counters not None, columns=None) -> None:
    """Count records, bytes, tombstones, distinct keys and keys whose last record is a
    tombstone (per partition too), and offset gaps, with no record format expected. table
    (key hashes) and dead (1: that key's last record was a tombstone) are parallel, their size
    a power of two the caller keeps at most half full. An end-of-partition event moves
    next_offset to the end, so offsets the broker delivers no record for (transaction markers)
    count as a gap there. With columns, row i holds offset, partition, key + value bytes and
    status (ok, tombstone or error). limits: per partition, the offset the restore stops at;
    records at or past it (a topic still being written) are left out, as if not read."""
    cdef Py_ssize_t i, n = len(messages), klen, vlen, slot
    cdef uint64_t mask = table.shape[0] - 1
    cdef int64_t offset, delta
    cdef int32_t partition
    cdef bint tomb, added, in_range
    cdef object msg, key, value, err
    cdef int64_t* c_off = NULL
    cdef int32_t* c_part = NULL
    cdef int32_t* c_size = NULL
    cdef uint8_t* c_stat = NULL
    cdef int64_t[::1] v_off
    cdef int32_t[::1] v_part, v_size
    cdef uint8_t[::1] v_stat
    if columns is not None:
        if columns.capacity < n:
            raise ValueError(f"columns hold {columns.capacity} rows, batch has {n}")
        v_off = columns.offset; v_part = columns.partition; v_size = columns.value_size
        v_stat = columns.status
        c_off = &v_off[0]; c_part = &v_part[0]; c_size = &v_size[0]; c_stat = &v_stat[0]
    for i in range(n):
        msg = messages[i]
        err = msg.error()
        partition = msg.partition() if msg.partition() is not None else -1
        in_range = 0 <= partition < next_offset.shape[0]
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF and in_range and msg.offset() is not None:
                _advance(&next_offset[partition], min(<int64_t>msg.offset(), limits[partition]),
                         &counters[0], False)
            else:
                counters[F_ERRORS] += 1
            if c_stat != NULL:
                c_stat[i] = S_ERROR; c_off[i] = -1; c_part[i] = -1; c_size[i] = 0
            continue
        offset = msg.offset() if msg.offset() is not None else -1
        if in_range and offset >= limits[partition]:
            if c_stat != NULL:
                c_stat[i] = S_ERROR; c_off[i] = -1; c_part[i] = -1; c_size[i] = 0
            continue
        key = msg.key()
        value = msg.value()
        tomb = value is None
        klen = PyBytes_GET_SIZE(key) if key is not None else 0
        vlen = PyBytes_GET_SIZE(value) if not tomb else 0
        counters[F_RECORDS] += 1
        counters[F_BYTES] += klen + vlen
        if tomb:
            counters[F_TOMBSTONES] += 1
        if offset >= 0 and in_range:
            _advance(&next_offset[partition], offset + 1, &counters[0], True)
        if key is None:
            counters[F_NULL_KEYS] += 1
        else:
            slot = keyset_slot(&table[0], mask, partition_key_hash(
                <const uint8_t*>PyBytes_AS_STRING(key), klen, partition), &added)
            if added:
                counters[F_DISTINCT] += 1
                if in_range:
                    part_keys[partition] += 1
            if added or dead[slot] != tomb:
                delta = (1 if tomb else -1) if not added else (1 if tomb else 0)
                counters[F_DEAD] += delta
                if in_range:
                    part_dead[partition] += delta
                dead[slot] = tomb
        if c_stat != NULL:
            c_off[i] = offset; c_part[i] = partition; c_size[i] = <int32_t>(klen + vlen)
            c_stat[i] = S_TOMBSTONE if tomb else S_OK


cdef inline void _advance(int64_t* next_offset, int64_t upto, int64_t* counters,
                          bint record) noexcept nogil:
    """Move a partition's next offset to upto (one past a record, or the end at end of
    partition); offsets jumped over are a gap, a record behind it a rewind."""
    cdef int64_t expected = next_offset[0]
    cdef int64_t at = upto - 1 if record else upto
    if expected >= 0:
        if at > expected:
            counters[F_OFFSET_GAPS] += 1
            counters[F_GAP_OFFSETS] += at - expected
        elif record and at < expected:
            counters[F_REWINDS] += 1
    if upto > expected:
        next_offset[0] = upto
    elif record:
        next_offset[0] = upto


# ---- encoding (producer side) -----------------------------------------------------------------

def encode_values(uint8_t[:, ::1] out not None, const int64_t[::1] key_ids not None,
                  const int64_t[::1] versions not None, const int64_t[::1] intended_ns not None,
                  const int64_t[::1] sequences not None, uint32_t producer_id,
                  const uint8_t[::1] pool not None, uint8_t flags) -> None:
    """Fill each row of out (n, value_size) with a complete value; see records.py."""
    cdef Py_ssize_t i, n = out.shape[0], size = out.shape[1]
    cdef Py_ssize_t payload_len = size - HEADER_BYTES, span = pool.shape[0] - payload_len, start
    cdef uint8_t* row
    if payload_len < 0:
        raise ValueError(f"value size {size} is below the {HEADER_BYTES}-byte header")
    if span < 0:
        raise ValueError(f"payload pool of {pool.shape[0]} bytes is below the payload {payload_len}")
    with nogil:
        for i in range(n):
            row = &out[i, 0]
            row[4] = 82; row[5] = 66; row[6] = FORMAT_VERSION; row[7] = flags
            rb_store_u64(row + 8, <uint64_t>key_ids[i])
            rb_store_u64(row + 16, <uint64_t>versions[i])
            rb_store_u64(row + 24, <uint64_t>intended_ns[i])
            rb_store_u64(row + 32, <uint64_t>sequences[i])
            rb_store_u32(row + 40, producer_id)
            rb_store_u32(row + 44, <uint32_t>payload_len)
            start = (sequences[i] * 7919) % span if span > 0 else 0
            memcpy(row + HEADER_BYTES, &pool[0] + start, payload_len)
            rb_store_u32(row, <uint32_t>rb64(row + 4, size - 4))


def checksum(const uint8_t[::1] data not None) -> int:
    """rb64 of a bytes-like object (the record format's checksum, 64 bits)."""
    return rb64(&data[0] if data.shape[0] else NULL, data.shape[0])
