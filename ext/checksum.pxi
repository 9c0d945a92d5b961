# rb64: the record checksum (replaybench format v1). Word-wise multiply/rotate mixing over
# little-endian 8-byte words, the tail zero-padded into one last word; a 64-bit finaliser.
# Chosen over zlib's crc32 because it costs ~3 cycles per 8 bytes, which keeps verification
# well inside the per-record budget. records.py carries the same definition in Python.
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

cdef extern from *:
    """
    #define RB_P1 0x9E3779B185EBCA87ULL
    #define RB_P2 0xC2B2AE3D27D4EB4FULL
    #define RB_P3 0x165667B19E3779F9ULL
    """
    const uint64_t RB_P1
    const uint64_t RB_P2
    const uint64_t RB_P3

cdef inline uint64_t _rotl(uint64_t x, int r) nogil:
    return (x << r) | (x >> (64 - r))

cdef inline uint64_t rb64(const uint8_t* data, Py_ssize_t length) noexcept nogil:
    cdef uint64_t h = RB_P3 + (<uint64_t>length) * RB_P1
    cdef uint64_t w = 0
    cdef Py_ssize_t i = 0
    while i + 8 <= length:
        memcpy(&w, data + i, 8)
        h = _rotl(h ^ (w * RB_P2), 31) * RB_P1
        i += 8
    if i < length:
        w = 0
        memcpy(&w, data + i, length - i)
        h = _rotl(h ^ (w * RB_P2), 31) * RB_P1
    h ^= h >> 33
    h *= RB_P3
    h ^= h >> 29
    return h
