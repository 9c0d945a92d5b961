# cython: language_level=3
"""replaybench's compiled core: per-record work on the hot path (see replaybench/core.py)."""

include "checksum.pxi"


def checksum(const uint8_t[::1] data not None) -> int:
    """rb64 of a bytes-like object (the record format's checksum, 64 bits)."""
    return rb64(&data[0] if data.shape[0] else NULL, data.shape[0])
