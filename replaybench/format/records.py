"""The replaybench record format, version 1.

Kafka key: the key id as 8 bytes, big-endian, so that compaction keeps one record per key.
Kafka value: a 48-byte little-endian header, then `payload_len` payload bytes.

    offset size field
    0      4    checksum          low 32 bits of rb64(value[4:]) (see checksum.py)
    4      2    magic             b"RB"
    6      1    format_version    1
    7      1    flags             bit 0: payload is random (incompressible) bytes
    8      8    key_id            must equal the Kafka key
    16     8    key_version       1, 2, ... per key; a restore must end at the last one
    24     8    intended_send_ns  when the schedule meant to send it (CLOCK_REALTIME, ns)
    32     8    sequence          per producer, from 0
    40     4    producer_id
    44     4    payload_len       len(value) - 48
    48     ...  payload

A null value is a tombstone: the key is deleted from the state.

Decoding classifies every record with one of the STATUS_* codes below; bad records are counted,
never folded and never fatal.
"""

from __future__ import annotations

import numpy as np

from replaybench.format.checksum import rb64

FORMAT_VERSION = 1
MAGIC = b"RB"
HEADER_BYTES = 48
KEY_BYTES = 8
FLAG_RANDOM_PAYLOAD = 1

HEADER_DTYPE = np.dtype([
    ("checksum", "<u4"), ("magic", "S2"), ("format_version", "u1"), ("flags", "u1"),
    ("key_id", "<u8"), ("key_version", "<u8"), ("intended_send_ns", "<i8"),
    ("sequence", "<u8"), ("producer_id", "<u4"), ("payload_len", "<u4"),
])
assert HEADER_DTYPE.itemsize == HEADER_BYTES

# Record classification (the `status` column).
STATUS_OK = 0
STATUS_TOMBSTONE = 1
STATUS_TRUNCATED = 2       # shorter than the header, or payload_len disagrees with the size
STATUS_BAD_MAGIC = 3       # not a replaybench record
STATUS_BAD_VERSION = 4     # a replaybench record of a format this build does not read
STATUS_BAD_CHECKSUM = 5
STATUS_BAD_KEY = 6         # key missing, not 8 bytes, or not the header's key id
STATUS_KEY_OUT_OF_RANGE = 7  # key id beyond the state table
STATUS_ERROR = 8           # the consumer delivered an error event, not a record
STATUS_NAMES = ("ok", "tombstone", "truncated", "bad_magic", "bad_version", "bad_checksum",
                "bad_key", "key_out_of_range", "error")


def encode_keys(key_ids: np.ndarray) -> np.ndarray:
    """Kafka keys for key ids: an (n, 8) uint8 array, big-endian rows."""
    return np.ascontiguousarray(key_ids, dtype=">u8").view(np.uint8).reshape(-1, KEY_BYTES)


def key_id_of(key: bytes | None) -> int:
    """The key id in a Kafka key, or -1 if the key is not 8 bytes."""
    return int.from_bytes(key, "big") if key is not None and len(key) == KEY_BYTES else -1


# Random payloads are windows into this pool; it must be far larger than a producer batch, or
# the compressor would find the repeats and "random" data would compress.
DEFAULT_POOL_BYTES = 16 << 20


def payload_pool(size: int, random: bool, seed: int = 0) -> np.ndarray:
    """Bytes that payloads are cut from: random (incompressible) or a repeated text (compresses
    well, as JSON-ish changelog values do)."""
    if random:
        return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    text = np.frombuffer(b"replaybench-state-value;", dtype=np.uint8)
    return np.resize(text, size)


def payload_start(sequence: int, payload_len: int, pool_len: int) -> int:
    """Where a record's payload starts in the pool, so that consecutive payloads differ."""
    span = pool_len - payload_len
    return (sequence * 7919) % span if span > 0 else 0


def encode_values_py(out: np.ndarray, key_ids: np.ndarray, versions: np.ndarray,
                     intended_ns: np.ndarray, sequences: np.ndarray, producer_id: int,
                     pool: np.ndarray, flags: int) -> None:
    """Reference encoder: fill rows of out (n, value_size) uint8 with complete values."""
    n, value_size = out.shape
    payload_len = value_size - HEADER_BYTES
    header = out[:, :HEADER_BYTES].view(HEADER_DTYPE).reshape(n)
    header["magic"] = MAGIC
    header["format_version"] = FORMAT_VERSION
    header["flags"] = flags
    header["key_id"] = key_ids
    header["key_version"] = versions
    header["intended_send_ns"] = intended_ns
    header["sequence"] = sequences
    header["producer_id"] = producer_id
    header["payload_len"] = payload_len
    for i in range(n):
        start = payload_start(int(sequences[i]), payload_len, len(pool))
        out[i, HEADER_BYTES:] = pool[start:start + payload_len]
        header["checksum"][i] = rb64(out[i, 4:].tobytes()) & 0xFFFFFFFF


def classify(key: bytes | None, value: bytes | None) -> tuple[int, np.void | None]:
    """Reference decoder for one record: (status, header or None)."""
    key_id = key_id_of(key)
    if value is None:
        return (STATUS_TOMBSTONE if key_id >= 0 else STATUS_BAD_KEY), None
    if len(value) < HEADER_BYTES:
        return STATUS_TRUNCATED, None
    header = np.frombuffer(value, HEADER_DTYPE, count=1)[0]
    if header["magic"] != MAGIC:
        return STATUS_BAD_MAGIC, None
    if header["format_version"] != FORMAT_VERSION:
        return STATUS_BAD_VERSION, None
    if header["payload_len"] != len(value) - HEADER_BYTES:
        return STATUS_TRUNCATED, None
    if header["checksum"] != rb64(value[4:]) & 0xFFFFFFFF:
        return STATUS_BAD_CHECKSUM, header
    if key_id != header["key_id"]:
        return STATUS_BAD_KEY, header
    return STATUS_OK, header
