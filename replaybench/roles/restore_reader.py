"""RestoreReader: rebuilds the state from offset 0 to the target offsets, as a stream job does
after losing its local state, and verifies it with the core."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from confluent_kafka import Consumer, KafkaError, TopicPartition

from replaybench.format import records
from replaybench.format.core import Columns, ForeignState, StateTable
from replaybench.format.restore_result import PartitionRestore, RestoreResult
from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import Snapshot
from replaybench.roles.client_stats import ClientStats, fetch_state
from replaybench.roles.restore_batches import open_batches

_CORRUPT = ("truncated", "bad_magic", "bad_version", "bad_checksum", "bad_key", "key_out_of_range")
# Readers sample their fetcher's state ten times a second (fetch_state); parsing one emission
# costs ~0.1 ms, so 1 ms per second of reading.
FETCH_SAMPLE_MS = 100
LIBRDKAFKA_QUEUED_MIN_MESSAGES = 100_000   # librdkafka's own default, for a config without one

# Catch-up reads want large fetches and no pause between them; any librdkafka property passed in
# overrides these. librdkafka stops fetching a partition whose queue holds queued.min.messages
# (100,000 by default) for fetch.queue.backoff.ms (1 s by default): small records reach that
# count long before the byte limit, so a 200 B restore spent most of its time in that back-off.
# From peer_benchmarks/restore_settings.py (100 B .. 64 KiB, 1 and 4 readers): a 10 ms back-off and a
# 1 M-record threshold read 1.4-2.4x faster at 100-200 B and change nothing measurable at
# 1-16 KiB; the byte limit (256 MiB) still bounds a reader's memory.
RESTORE_CONSUMER_DEFAULTS = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.max.bytes": 64 << 20,
    "max.partition.fetch.bytes": 8 << 20,
    "fetch.wait.max.ms": 100,
    "queued.max.messages.kbytes": 256 << 10,
    "queued.min.messages": 1_000_000,
    "fetch.queue.backoff.ms": 10,
    "enable.partition.eof": True,
}


def end_offsets(client_config: dict, topic: str, partitions: int,
                timeout_s: float = 10.0) -> dict[int, int]:
    """Each partition's current end offset: the targets a restore that starts now must reach.

    The high watermark is checked against the records themselves: the last record at or past
    it is read, and the end is one past the last offset seen. On Kafka that is the watermark;
    some Kafka-compatible brokers (Tansu 0.6) report one past the last *batch's base offset*,
    which would make a restore stop after the first batch.
    """
    consumer = Consumer({**client_config, "group.id": "replaybench-offsets",
                         "enable.partition.eof": True, "enable.auto.commit": False})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[1]
                for p in range(partitions)}
        probe = {p: end for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, end - 1) for p, end in probe.items()])
        deadline = time.monotonic() + timeout_s
        while probe and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.1):
                if msg.error() is None:
                    ends[msg.partition()] = max(ends[msg.partition()], msg.offset() + 1)
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    probe.pop(msg.partition(), None)
        return ends
    finally:
        consumer.close()


def log_start_offsets(client_config: dict, topic: str, partitions: int,
                      timeout_s: float = 10.0) -> dict[int, int]:
    """Each partition's log start offset (its low watermark): where a restore begins."""
    consumer = Consumer({**client_config, "group.id": "replaybench-offsets",
                         "enable.auto.commit": False})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)[0]
                for p in range(partitions)}
    finally:
        consumer.close()


# Counters a reader adds to its snapshots about what held it back (see client_bound.py).
HOLDUP_COUNTERS = ("fetch_samples", "fetch_full_samples", "fetch_idle_samples", "consume_ns",
                   "fold_ns", "thread_cpu_ns")


@dataclass
class RestoreProgress:
    records: int
    bytes: int
    caught_up: bool
    partitions: dict[int, PartitionRestore] = field(default_factory=dict)


class RestoreReader:
    """Assign + seek to the beginning (no group rebalances), read to the targets, fold."""

    def __init__(self, client_config: dict, topic: str, partitions: list[int],
                 targets: dict[int, int] | None, n_keys: int, n_partitions: int,
                 batch: int = 2_000, follow: bool = False, caught_up_lag: int = 0,
                 name: str = "reader-0", client: str = "auto", foreign: bool = False) -> None:
        """targets: partition -> end offset to reach; may wait until start() when the restore
        begins later than the reader is built. follow: the moving-target mode. Read past
        `targets` until a record sent after start() has been read and every partition is fewer
        than `caught_up_lag` records behind. client: which consumer takes the batches
        (restore_batches.open_batches). foreign: a topic replaybench did not write, counted
        (core.ForeignState) rather than verified, through confluent-kafka."""
        self.topic, self.batch, self.name = topic, batch, name
        self.follow, self.caught_up_lag = follow, caught_up_lag
        self.clock = Clock()
        self.stats = ClientStats(FETCH_SAMPLE_MS, self._sample_fetcher)
        self.foreign = foreign
        self.state = ForeignState(n_partitions) if foreign else StateTable(n_keys, n_partitions)
        client = "confluent-kafka" if foreign else client
        config = {**RESTORE_CONSUMER_DEFAULTS, "group.id": f"replaybench-restore-{topic}",
                  **client_config}
        self.queued_min = int(config.get("queued.min.messages", LIBRDKAFKA_QUEUED_MIN_MESSAGES))
        self.batches = open_batches({**config, **self.stats.config}, topic, batch, client)
        self.client = self.batches.name
        # What held the reader back, per interval: its fetcher's sampled state, and the time
        # its thread spent in consume() and folding, and on CPU (client_bound.py judges these).
        self.holdup = dict.fromkeys(HOLDUP_COUNTERS, 0)
        self.parts = {p: PartitionRestore(p, 0, 0) for p in partitions}
        self._pending: set[int] = set()
        if targets is not None:
            self._set_targets(targets)
        self.columns = Columns(batch)
        self._n_partitions = n_partitions
        self._since_ns = 0
        self._seen_new = False
        self._caught_up_ns = 0
        self._reported = self.state.counters.copy()

    def _set_targets(self, targets: dict[int, int]) -> None:
        for p, part in self.parts.items():
            part.end_offset = targets[p]
        if self.foreign:   # a topic others may still write: count up to the targets only
            self.state.set_limits({p: targets[p] for p in self.parts})
        self._pending = set(self.parts) if self.follow else \
            {p for p in self.parts if targets[p] > 0}

    def start(self, since_ns: int | None = None, targets: dict[int, int] | None = None) -> None:
        """Begin reading from offset 0; `since_ns` (wall clock) is the storm start for follow."""
        if targets is not None:
            self._set_targets(targets)
        now = self.clock()
        self._since_ns = since_ns if since_ns is not None else now
        for part in self.parts.values():
            part.started_ns = now
            if part.partition not in self._pending:
                part.done_ns = now
        if not self._pending:
            self._caught_up_ns = now
        self.batches.assign(sorted(self._pending))

    def tick(self, deadline_ns: int) -> Snapshot:
        """Read until deadline_ns or until caught up."""
        cpu = time.thread_time_ns()
        while self._pending and (remaining := deadline_ns - self.clock()) > 0:
            self.poll(min(remaining / 1e9, 0.2))
        self.holdup["thread_cpu_ns"] += time.thread_time_ns() - cpu
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        delta = self.state.counters - self._reported
        self._reported = self.state.counters.copy()
        counts = dict(zip(self.state.counter_names, delta.tolist()))
        lag = sum(max(part.end_offset - int(self.state.next_offset[p]), 0)
                  for p, part in self.parts.items() if p in self._pending)
        holdup, self.holdup = self.holdup, dict.fromkeys(HOLDUP_COUNTERS, 0)
        return Snapshot("reader", self.name, self.clock(),
                        {"records": counts["records"], "bytes": counts["bytes"],
                         "corrupt": sum(counts.get(n, 0) for n in _CORRUPT),
                         "regressions": counts.get("regressions", 0), **holdup},
                        {**self.stats.gauges(), "lag_records": float(lag)}, {},
                        done=not self._pending)

    def caught_up_at(self) -> int:
        """Wall-clock ns at which the last partition reached its target (0: not yet)."""
        return self._caught_up_ns

    def result(self) -> RestoreResult:
        if self.foreign:
            for p, part in self.parts.items():
                part.keys = int(self.state.partition_keys[p])
                part.dead_keys = int(self.state.partition_dead_keys[p])
            return RestoreResult(self.name, self.parts, None, None, self.state.counts(),
                                 self._caught_up_ns, self.client, foreign=True)
        return RestoreResult(self.name, self.parts, self.state.versions, self.state.live,
                             self.state.counts(), self._caught_up_ns, self.client)

    def poll(self, timeout_s: float = 0.2) -> RestoreProgress:
        """Consume one batch and fold it; cheap to call in a loop until caught_up."""
        if self._pending:
            n, consume_ns, fold_ns = self.batches.take(self.state, self.columns, timeout_s)
            if n:
                accounted = time.monotonic_ns()
                self._account(n)
                fold_ns += time.monotonic_ns() - accounted
            self.holdup["consume_ns"] += consume_ns
            self.holdup["fold_ns"] += fold_ns
        return self.progress()

    def run_to_end(self, timeout_s: float = 600.0) -> RestoreProgress:
        self.start()
        self.tick(self.clock() + int(timeout_s * 1e9))
        return self.progress()

    def progress(self) -> RestoreProgress:
        c = self.state.counts()
        return RestoreProgress(c["records"], c["bytes"], not self._pending, self.parts)

    def close(self) -> None:
        self.batches.close()

    def _account(self, n: int) -> None:
        """Per-partition records/bytes and the moment each partition reached its target,
        from the batch's columns (no per-message Python)."""
        cols = self.columns
        good = cols.status[:n] != records.STATUS_ERROR
        part = cols.partition[:n][good]
        size = self.state.record_bytes(cols, np.flatnonzero(good))
        counts = np.bincount(part, minlength=self._n_partitions)
        sizes = np.bincount(part, weights=size, minlength=self._n_partitions)
        now = self.clock()
        for p in np.flatnonzero(counts).tolist():
            restore = self.parts[p]
            if restore.first_offset < 0:
                restore.first_offset = int(cols.offset[:n][good][part == p].min())
            restore.records += int(counts[p])
            restore.bytes += int(sizes[p])
        if not self.follow:
            # next_offset: one past the last record, or (foreign) the end of partition reached
            # past offsets with no record, such as a transaction marker at the end.
            for p in [p for p in self._pending
                      if self.state.next_offset[p] >= self.parts[p].end_offset]:
                self.parts[p].done_ns = now
                self._pending.discard(p)
        if self.follow:
            self._seen_new = self._seen_new or bool(
                (cols.intended_send_ns[:n][good] > self._since_ns).any())
            if self._seen_new and self._lag_below_threshold():
                for p in self._pending:
                    self.parts[p].end_offset = max(int(self.state.next_offset[p]), 0)
                    self.parts[p].done_ns = now
                self._pending.clear()
        if not self._pending:
            self._caught_up_ns = now
            self.batches.unassign()

    def _sample_fetcher(self, stats: dict) -> None:
        state = fetch_state(stats, self.topic, self._pending, self.queued_min)
        if state:
            self.holdup["fetch_samples"] += 1
            if state in ("full", "idle"):
                self.holdup[f"fetch_{state}_samples"] += 1

    def _lag_below_threshold(self) -> bool:
        """Every partition's high watermark, as of the last fetch, is close to our position."""
        for p in self._pending:
            high = self.batches.high_watermark(p)
            position = max(int(self.state.next_offset[p]), 0)
            if high < 0 or high - position >= max(self.caught_up_lag, 1):
                return False
        return True

