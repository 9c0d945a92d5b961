"""RestoreReader: rebuilds the state from offset 0 to the target offsets, as a stream job does
after losing its local state, and verifies it with the core."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from confluent_kafka import Consumer, KafkaException, TopicPartition

from replaybench import records
from replaybench.counters import FOLD_COUNTERS
from replaybench.core import Columns, StateTable

_PARTITION_EOF = -191
_ERRORS = FOLD_COUNTERS.index("errors")

# Catch-up reads want large fetches; any librdkafka property passed in overrides these.
RESTORE_CONSUMER_DEFAULTS = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.max.bytes": 64 << 20,
    "max.partition.fetch.bytes": 8 << 20,
    "fetch.wait.max.ms": 100,
    "queued.max.messages.kbytes": 256 << 10,
    "enable.partition.eof": True,
}


def end_offsets(client_config: dict, topic: str, partitions: int,
                timeout_s: float = 10.0) -> dict[int, int]:
    """Each partition's current end offset: the targets a restore that starts now must reach."""
    consumer = Consumer({**client_config, "group.id": "replaybench-offsets"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
                for p in range(partitions)}
    finally:
        consumer.close()


@dataclass
class PartitionRestore:
    partition: int
    start_offset: int
    end_offset: int          # the target: the end offset captured when the restore began
    records: int = 0
    bytes: int = 0
    started_ns: int = 0
    done_ns: int = 0


@dataclass
class RestoreProgress:
    records: int
    bytes: int
    caught_up: bool
    partitions: dict[int, PartitionRestore] = field(default_factory=dict)


class RestoreReader:
    """Assign + seek to the beginning (no group rebalances), read to the targets, fold."""

    def __init__(self, client_config: dict, topic: str, partitions: list[int],
                 targets: dict[int, int], n_keys: int, n_partitions: int,
                 batch: int = 2_000) -> None:
        self.topic = topic
        self.batch = batch
        self.state = StateTable(n_keys, n_partitions)
        self.consumer = Consumer({**RESTORE_CONSUMER_DEFAULTS, "group.id": f"replaybench-restore-{topic}",
                                  **client_config})
        self.parts = {p: PartitionRestore(p, 0, targets[p]) for p in partitions}
        self._pending = {p for p in partitions if targets[p] > 0}
        self.columns = Columns(batch)
        self._n_partitions = n_partitions

    def start(self) -> None:
        now = time.monotonic_ns()
        for part in self.parts.values():
            part.started_ns = now
            if part.end_offset == 0:
                part.done_ns = now
        self.consumer.assign([TopicPartition(self.topic, p, 0) for p in self._pending])

    def poll(self, timeout_s: float = 0.2) -> RestoreProgress:
        """Consume one batch and fold it; cheap to call in a loop until caught_up."""
        if self._pending:
            messages = self.consumer.consume(self.batch, timeout=timeout_s)
            if messages:
                errors_before = self.state.counters[_ERRORS]
                self.state.fold(messages, columns=self.columns)
                if self.state.counters[_ERRORS] != errors_before:
                    _raise_real_errors(messages)
                self._account(len(messages))
        return self.progress()

    def run_to_end(self, timeout_s: float = 600.0) -> RestoreProgress:
        self.start()
        deadline = time.monotonic_ns() + int(timeout_s * 1e9)
        while self._pending and time.monotonic_ns() < deadline:
            self.poll()
        return self.progress()

    def progress(self) -> RestoreProgress:
        c = self.state.counts()
        return RestoreProgress(c["records"], c["bytes"], not self._pending, self.parts)

    def close(self) -> None:
        self.consumer.close()

    def _account(self, n: int) -> None:
        """Per-partition records/bytes and the moment each partition reached its target,
        from the batch's columns (no per-message Python)."""
        cols = self.columns
        good = cols.status[:n] != records.STATUS_ERROR
        part = cols.partition[:n][good]
        size = 8 + np.maximum(cols.value_size[:n][good], 0)
        counts = np.bincount(part, minlength=self._n_partitions)
        sizes = np.bincount(part, weights=size, minlength=self._n_partitions)
        last = np.full(self._n_partitions, -1, np.int64)
        np.maximum.at(last, part, cols.offset[:n][good])
        now = time.monotonic_ns()
        for p in np.flatnonzero(counts).tolist():
            restore = self.parts[p]
            restore.records += int(counts[p])
            restore.bytes += int(sizes[p])
            if p in self._pending and last[p] + 1 >= restore.end_offset:
                restore.done_ns = now
                self._pending.discard(p)
        if not self._pending:
            self.consumer.unassign()


def _raise_real_errors(messages: list) -> None:
    for msg in messages:
        err = msg.error()
        if err is not None and err.code() != _PARTITION_EOF:
            raise KafkaException(err)
