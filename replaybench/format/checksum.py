"""rb64, the record checksum, in pure Python: the reference the compiled core must match."""

from __future__ import annotations

_MASK = (1 << 64) - 1
P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9


def _step(h: int, word: int) -> int:
    x = h ^ ((word * P2) & _MASK)
    return ((((x << 31) | (x >> 33)) & _MASK) * P1) & _MASK


def rb64(data: bytes | memoryview) -> int:
    """64-bit checksum of data; see ext/checksum.pxi for the definition and why it exists."""
    data = bytes(data)
    n = len(data)
    h = (P3 + n * P1) & _MASK
    full = n - n % 8
    for i in range(0, full, 8):
        h = _step(h, int.from_bytes(data[i:i + 8], "little"))
    if full < n:
        h = _step(h, int.from_bytes(data[full:], "little"))
    h ^= h >> 33
    h = (h * P3) & _MASK
    h ^= h >> 29
    return h
