"""A whole topic read once, from its log start to its end offsets as they are now: where each
record replaybench wrote sits (key id, version, partition, offset), or for a topic it did not
write, each record's offset and a hash of its key and value. A migration judges a mirrored copy
with it: what the copy holds, in which order, and at which offsets."""

from __future__ import annotations

import hashlib
import time

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from replaybench.engine.group_offsets import OffsetReader
from replaybench.format import core

_BATCH = 5_000


def scan(config: dict, topic: str, partitions: int, n_keys: int,
         timeout_s: float = 120.0) -> np.ndarray:
    """(key id, version, partition, offset) rows of every record now in `topic`."""
    reader = OffsetReader(config)
    try:
        ends = reader.ends(topic, partitions)
    finally:
        reader.close()
    todo = {p: end for p, end in ends.items() if end > 0}
    if not todo:
        return np.zeros((0, 4), np.int64)
    consumer = Consumer({**config, "group.id": "replaybench-scan", "enable.auto.commit": False,
                        "auto.offset.reset": "earliest", "enable.partition.eof": False})
    state, cols, rows = core.StateTable(n_keys, partitions), core.Columns(_BATCH), []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            batch = [m for m in consumer.consume(_BATCH, timeout=0.5) if m.error() is None]
            if not batch:
                continue
            state.fold(batch, 0, None, cols)
            n = len(batch)
            rows.append(np.stack([cols.key_id[:n], cols.key_version[:n],
                                  cols.partition[:n].astype(np.int64), cols.offset[:n]], axis=1))
            for m in batch:
                if m.offset() + 1 >= todo.get(m.partition(), 1 << 62):
                    todo.pop(m.partition(), None)
    finally:
        consumer.close()
    return np.concatenate(rows) if rows else np.zeros((0, 4), np.int64)


def scan_hashes(config: dict, topic: str, partitions: int, timeout_s: float = 120.0,
                committed: bool = True) -> dict[int, tuple[list[int], list[bytes]]]:
    """Every record now in a topic replaybench did not write, per partition in offset order,
    as (offsets, a 16-byte hash of key and value each): what a copy must hold in order.
    committed=False: as a read_uncommitted reader sees it, aborted transactions' records too."""
    reader = OffsetReader(config)
    try:
        ends = reader.ends(topic, partitions)
    finally:
        reader.close()
    out: dict[int, tuple[list[int], list[bytes]]] = {p: ([], []) for p in range(partitions)}
    todo = {p: end for p, end in ends.items() if end > 0}
    if not todo:
        return out
    consumer = Consumer({**config, "group.id": "replaybench-scan", "enable.auto.commit": False,
                        "enable.partition.eof": True,
                        "isolation.level": "read_committed" if committed else "read_uncommitted"})
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for m in consumer.consume(_BATCH, timeout=0.5):
                if m.error() is not None:
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        todo.pop(m.partition(), None)
                    continue
                offsets, hashes = out[m.partition()]
                offsets.append(m.offset())
                hashes.append(_hash(m.key(), m.value()))
    finally:
        consumer.close()
    return out


def aborted_hashes(config: dict, topic: str, partitions: int,
                   committed: dict[int, tuple[list[int], list[bytes]]]
                   ) -> dict[int, tuple[list[int], list[bytes]]]:
    """The records of `topic` a read_uncommitted reader gets and a read_committed one does not
    (committed: scan_hashes' result): those of aborted transactions, and of any still open."""
    out = {}
    for p, (offsets, hashes) in scan_hashes(config, topic, partitions, committed=False).items():
        kept = set(committed.get(p, ([], []))[0])
        pairs = [(o, h) for o, h in zip(offsets, hashes) if o not in kept]
        out[p] = ([o for o, _ in pairs], [h for _, h in pairs])
    return out


def _hash(key: bytes | None, value: bytes | None) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for part in (key, value):   # None and b"" differ: a tombstone is not an empty value
        h.update(b"\x00" if part is None else b"\x01" + len(part).to_bytes(8, "big") + part)
    return h.digest()
