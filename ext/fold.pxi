# The per-record fold shared by the compiled core (core.pyx) and the native restore
# consumer (rdkafka_reader.pyx): record layout, counters, HDR recording, decode/verify/fold.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t, INT64_MAX

include "checksum.pxi"

cdef enum:
    HEADER_BYTES = 48
    FORMAT_VERSION = 1

cdef enum:  # fold counters, in counters.FOLD_COUNTERS order
    C_RECORDS = 0, C_BYTES, C_OK, C_TOMBSTONES, C_TRUNCATED, C_BAD_MAGIC, C_BAD_VERSION,
    C_BAD_CHECKSUM, C_BAD_KEY, C_KEY_OUT_OF_RANGE, C_ERRORS, C_DUPLICATES, C_REGRESSIONS,
    C_OFFSET_GAPS, C_GAP_OFFSETS, C_REWINDS, C_LATENCY_RECORDED, C_LATENCY_CLAMPED

cdef enum:  # records.STATUS_*
    S_OK = 0, S_TOMBSTONE, S_TRUNCATED, S_BAD_MAGIC, S_BAD_VERSION, S_BAD_CHECKSUM, S_BAD_KEY,
    S_KEY_OUT_OF_RANGE, S_ERROR

cdef int64_t[9] STATUS_COUNTER = [C_OK, C_TOMBSTONES, C_TRUNCATED, C_BAD_MAGIC, C_BAD_VERSION,
                                  C_BAD_CHECKSUM, C_BAD_KEY, C_KEY_OUT_OF_RANGE, C_ERRORS]


cdef extern from *:
    """
    static inline uint64_t rb_load_be64(const uint8_t* p) {
        uint64_t v; memcpy(&v, p, 8); return __builtin_bswap64(v);
    }
    static inline uint64_t rb_load_u64(const uint8_t* p) { uint64_t v; memcpy(&v, p, 8); return v; }
    static inline uint32_t rb_load_u32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
    static inline void rb_store_u64(uint8_t* p, uint64_t v) { memcpy(p, &v, 8); }
    static inline void rb_store_u32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }
    static inline int rb_clzll(uint64_t v) { return __builtin_clzll(v); }
    """
    uint64_t rb_load_be64(const uint8_t* p) nogil
    uint64_t rb_load_u64(const uint8_t* p) nogil
    uint32_t rb_load_u32(const uint8_t* p) nogil
    void rb_store_u64(uint8_t* p, uint64_t v) nogil
    void rb_store_u32(uint8_t* p, uint32_t v) nogil
    int rb_clzll(uint64_t v) nogil


# ---- HDR recording (same bucket layout as the hdrhistogram package) ---------------------------

cdef struct Hdr:
    int64_t* counts
    int64_t counts_len
    int unit_magnitude
    int sub_bucket_half_count_magnitude
    int64_t sub_bucket_half_count
    uint64_t sub_bucket_mask
    int64_t highest
    int64_t min_seen
    int64_t max_seen


cdef inline void hdr_record(Hdr* h, int64_t value, int64_t* counters) noexcept nogil:
    cdef int bucket, pow2ceiling
    cdef int64_t sub_bucket, index
    if value < 0 or value > h.highest:
        counters[C_LATENCY_CLAMPED] += 1
        value = 0 if value < 0 else h.highest
    pow2ceiling = 64 - rb_clzll(<uint64_t>value | h.sub_bucket_mask)
    bucket = pow2ceiling - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub_bucket = value >> (bucket + h.unit_magnitude)
    index = ((<int64_t>(bucket + 1)) << h.sub_bucket_half_count_magnitude) + (sub_bucket - h.sub_bucket_half_count)
    h.counts[index] += 1
    if value < h.min_seen:
        h.min_seen = value
    if value > h.max_seen:
        h.max_seen = value
    counters[C_LATENCY_RECORDED] += 1


cdef int hdr_open(Hdr* h, hist, int64_t[::1] counts) except -1:
    h.counts = &counts[0]
    h.counts_len = counts.shape[0]
    h.unit_magnitude = hist.unit_magnitude
    h.sub_bucket_half_count_magnitude = hist.sub_bucket_half_count_magnitude
    h.sub_bucket_half_count = hist.sub_bucket_half_count
    h.sub_bucket_mask = hist.sub_bucket_mask
    h.highest = hist.highest_trackable_value
    h.min_seen = INT64_MAX
    h.max_seen = -1
    return 0


cdef void hdr_close(Hdr* h, hist, int64_t recorded) except *:
    """Update the histogram's Python-side totals, as hdrh's record_value would."""
    if recorded:
        hist.total_count += recorded
        hist.min_value = min(hist.min_value, h.min_seen)
        hist.max_value = max(hist.max_value, h.max_seen)


# ---- decode, verify, fold ---------------------------------------------------------------------

cdef struct Fold:
    int64_t* versions        # key id -> last version folded (0 = never)
    uint8_t* live            # key id -> 1 if present in the state
    uint64_t n_keys
    int64_t* next_offset     # partition -> offset expected next (-1 = none seen yet)
    int64_t n_partitions
    int64_t* counters
    Hdr* hdr                 # NULL: no latency recording
    int64_t now_ns
    # optional output columns (NULL when not wanted)
    int64_t* col_offset
    int32_t* col_partition
    int64_t* col_key_id
    int64_t* col_version
    int64_t* col_intended
    int32_t* col_size
    uint8_t* col_status


cdef inline int classify(const uint8_t* v, Py_ssize_t vlen, uint64_t key_id, bint key_ok,
                         uint64_t n_keys) noexcept nogil:
    """Same order of checks as records.classify; the key is checked last."""
    if vlen < 0:
        if not key_ok:
            return S_BAD_KEY
        return S_TOMBSTONE if key_id < n_keys else S_KEY_OUT_OF_RANGE
    if vlen < HEADER_BYTES:
        return S_TRUNCATED
    if v[4] != 82 or v[5] != 66:  # "RB"
        return S_BAD_MAGIC
    if v[6] != FORMAT_VERSION:
        return S_BAD_VERSION
    if rb_load_u32(v + 44) != <uint64_t>(vlen - HEADER_BYTES):
        return S_TRUNCATED
    if rb_load_u32(v) != <uint32_t>rb64(v + 4, vlen - 4):
        return S_BAD_CHECKSUM
    if not key_ok or rb_load_u64(v + 8) != key_id:
        return S_BAD_KEY
    if key_id >= n_keys:
        return S_KEY_OUT_OF_RANGE
    return S_OK


cdef inline void fold_one(Fold* f, Py_ssize_t row, const uint8_t* v, Py_ssize_t vlen,
                          uint64_t key_id, bint key_ok, Py_ssize_t key_len, int32_t partition,
                          int64_t offset) noexcept nogil:
    """vlen < 0 is a tombstone; key_ok is false for a key that is not 8 bytes; offset -1 is
    unknown and leaves offset tracking alone."""
    cdef int status = classify(v, vlen, key_id, key_ok, f.n_keys)
    cdef int64_t version = 0, intended = 0, expected, last
    f.counters[C_RECORDS] += 1
    f.counters[C_BYTES] += key_len + (vlen if vlen > 0 else 0)
    f.counters[STATUS_COUNTER[status]] += 1
    if offset >= 0 and 0 <= partition < f.n_partitions:
        expected = f.next_offset[partition]
        if expected >= 0:
            if offset > expected:
                f.counters[C_OFFSET_GAPS] += 1
                f.counters[C_GAP_OFFSETS] += offset - expected
            elif offset < expected:
                f.counters[C_REWINDS] += 1
        f.next_offset[partition] = offset + 1
    if status == S_OK:
        version = <int64_t>rb_load_u64(v + 16)
        intended = <int64_t>rb_load_u64(v + 24)
        last = f.versions[key_id]
        if version > last:
            f.versions[key_id] = version
            f.live[key_id] = 1
        elif version == last:
            f.counters[C_DUPLICATES] += 1
        else:
            f.counters[C_REGRESSIONS] += 1
        if f.hdr != NULL:
            hdr_record(f.hdr, f.now_ns - intended, f.counters)
    elif status == S_TOMBSTONE:
        f.live[key_id] = 0
    if f.col_status != NULL:
        f.col_offset[row] = offset
        f.col_partition[row] = partition
        f.col_key_id[row] = <int64_t>key_id if key_ok else -1
        f.col_version[row] = version
        f.col_intended[row] = intended
        f.col_size[row] = <int32_t>vlen
        f.col_status[row] = <uint8_t>status


cdef int fold_open(Fold* f, int64_t[::1] versions, uint8_t[::1] live, int64_t[::1] next_offset,
                   int64_t[::1] counters, int64_t now_ns, columns) except -1:
    f.versions = &versions[0]
    f.live = &live[0]
    f.n_keys = versions.shape[0]
    f.next_offset = &next_offset[0]
    f.n_partitions = next_offset.shape[0]
    f.counters = &counters[0]
    f.hdr = NULL
    f.now_ns = now_ns
    f.col_status = NULL
    cdef int64_t[::1] c_off, c_key, c_ver, c_int
    cdef int32_t[::1] c_part, c_size
    cdef uint8_t[::1] c_stat
    if columns is not None:
        c_off = columns.offset; c_part = columns.partition; c_key = columns.key_id
        c_ver = columns.key_version; c_int = columns.intended_send_ns; c_size = columns.value_size
        c_stat = columns.status
        f.col_offset = &c_off[0]; f.col_partition = &c_part[0]; f.col_key_id = &c_key[0]
        f.col_version = &c_ver[0]; f.col_intended = &c_int[0]; f.col_size = &c_size[0]
        f.col_status = &c_stat[0]
    return 0
