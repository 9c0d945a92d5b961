"""A whole topic read once, from its log start to its end offsets as they are now: where each
record replaybench wrote sits (key id, version, partition, offset). A migration judges a mirrored
copy with it: what the copy holds, and at which offsets."""

from __future__ import annotations

import time

import numpy as np
from confluent_kafka import Consumer, TopicPartition

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
