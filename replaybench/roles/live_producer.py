"""LiveProducer: the live traffic a restore storm must not hurt, sent open-loop.

Each record's intended send time comes from the RateSchedule and travels in its header. Three
latencies are recorded per acknowledged record, each into its own HDR histogram:

- ack_intended: acknowledgement - intended time. Corrected for coordinated omission: a stall
  delays every record that was due during it, and each of them counts the whole wait.
- ack_sent: acknowledgement - the moment produce() was called (what closed-loop tools report).
- sent_intended: how late the producer itself was (the harness's own share of the delay).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np
from confluent_kafka import Producer

from replaybench.format import core, records
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import IntervalHistograms, Snapshot
from replaybench.roles.client_stats import ClientStats
from replaybench.roles.schedule import RateSchedule

VERSION_BASE = 1 << 32  # live versions sit above any seeded version of the same key
_BATCH = 2_000          # records encoded per call into the compiled encoder
_RING = 1 << 20         # sent times kept for in-flight records, indexed by sequence
_SPIN_NS = 2_000_000    # waits shorter than this sleep instead of polling (poll has ms ticks)

PRODUCER_DEFAULTS = {"acks": "all", "enable.idempotence": True, "linger.ms": 1,
                     "compression.type": "lz4"}


@dataclass(frozen=True)
class KeyShare:
    """Producer `index` of `count` owns keys k with k % count == index, so each key's versions
    come from one producer and only ever grow."""
    n_keys: int
    index: int = 0
    count: int = 1

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.index + self.count * rng.integers(0, self.n_keys // self.count, n, np.int64)


class LiveProducer:
    METRICS = ("ack_intended", "ack_sent", "sent_intended")

    def __init__(self, client_config: dict, topic: str, n_partitions: int, keys: KeyShare,
                 value_bytes: int, schedule: RateSchedule | None, producer_id: int = 1,
                 record_deliveries: bool = False, name: str = "producer-0") -> None:
        """schedule None: closed loop, as fast as the client accepts (intended = sent)."""
        self.name, self.topic, self.keys, self.schedule = name, topic, keys, schedule
        self.value_bytes, self.producer_id = value_bytes, producer_id
        self.clock = Clock()
        self.stats = ClientStats()
        self.producer = Producer({**PRODUCER_DEFAULTS, **client_config, **self.stats.config,
                                  "on_delivery": self._on_delivery})
        self.hists = IntervalHistograms(self.METRICS)
        self.state = core.StateTable(keys.n_keys, n_partitions)
        self.columns = core.Columns(1 << 16)
        self.pool = records.payload_pool(records.DEFAULT_POOL_BYTES, True, producer_id)
        self.values = np.zeros((_BATCH, value_bytes), np.uint8)
        self.sent_ns = np.zeros(_RING, np.int64)
        self.rng = np.random.default_rng(producer_id)
        self.origin_ns = 0
        self.sent = 0
        self._acked: list = []
        self._failed: list[str] = []
        # acked_without_offset: acks that carried no offset (Tansu after a restart does this for
        # some retried batches); counted so that a loss can be traced to them.
        self._counts = {"sent": 0, "acked": 0, "failed": 0, "bytes": 0, "acked_without_offset": 0}
        self._scratch = np.zeros(len(FOLD_COUNTERS), np.int64)
        self._record_deliveries = record_deliveries
        self._deliveries: list[np.ndarray] = []   # (key id, version, partition, offset) rows
        self._rewinds_before = 0   # acked offset rewinds on clusters written to before
        self.first_ack_ns = self.last_ack_ns = 0   # of the cluster it writes to now
        # Open loop: the next records, encoded ahead (their content, intended times included,
        # is fixed by the schedule), so that sending one costs a clock read and produce():
        # encoding each as it fell due was half the role's CPU at 2,000 records/s.
        self._plan_lo = self._plan_hi = 0          # sequence numbers planned: [lo, hi)
        self._intended = np.zeros(0, np.int64)     # their intended times, wall ns
        self._intended_list: list[int] = []        # the same, for bisect
        self._blob = self._keys = b""
        self._lateness_from = 0                    # sent_intended recorded below this seq
        self._planned_all = False                  # a schedule that ends: all its records

    def start(self, origin_ns: int | None = None) -> None:
        """The schedule's time zero, wall-clock ns (now if None)."""
        self.origin_ns = origin_ns if origin_ns is not None else self.clock()

    def tick(self, deadline_ns: int) -> Snapshot:
        """Send what falls due until deadline_ns, and record the acks that arrive meanwhile."""
        if self.schedule is None:
            while self.clock() < deadline_ns:
                self._send(self.sent + _BATCH)
                self.producer.poll(0)
                self._take_acks()
            return self.snapshot()
        while (now := self.clock()) < deadline_ns:
            if self.sent >= self._plan_hi and not self._planned_all:
                self._plan(self.sent)
            i = self.sent - self._plan_lo
            if i >= len(self._intended_list):          # the schedule has no more records
                self._wait(deadline_ns - now)
            elif self._intended_list[i] <= now:
                self._produce_stamped(self._blob, self._keys, i,
                                      bisect_right(self._intended_list, now, i))
                self.producer.poll(0)
            else:
                self._wait(min(self._intended_list[i], deadline_ns) - now)
            self._take_acks()
        self._record_lateness()
        return self.snapshot()

    def finish(self, timeout_s: float = 60.0) -> Snapshot:
        """Flush what is in flight; the final snapshot holds the last acks."""
        self.producer.flush(timeout_s)
        self._take_acks()
        return self.snapshot(done=True)

    def switch(self, client_config: dict, topic: str) -> dict[str, int]:
        """Write to another cluster from now on (a migration's cutover): what is in flight is
        flushed to the old one first. The schedule and the sequence go on: records that fall
        due while it is not ticked are sent late, and their latency says so. Returns the old
        cluster's first and last acknowledgement times (ns)."""
        self.producer.flush(60)
        self._take_acks()
        acks = self.ack_times()
        self.producer = Producer({**PRODUCER_DEFAULTS, **client_config, **self.stats.config,
                                  "on_delivery": self._on_delivery})
        self.topic, self.first_ack_ns, self.last_ack_ns = topic, 0, 0
        # offsets start over on the new cluster: not a rewind
        self._rewinds_before += self.state.counts()["rewinds"]
        self.state = core.StateTable(self.keys.n_keys, self.state.next_offset.shape[0])
        return acks

    def ack_times(self) -> dict[str, int]:
        """First and last acknowledgement (ns) on the cluster it writes to now."""
        return {"first_ack_ns": self.first_ack_ns, "last_ack_ns": self.last_ack_ns}

    def take_deliveries(self) -> np.ndarray:
        """deliveries() so far, forgotten here (each cluster's are taken at its switch)."""
        out, self._deliveries = self.deliveries(), []
        return out

    def deliveries(self) -> np.ndarray:
        """Every acknowledged record as (key id, version, partition, offset), if recorded."""
        if not self._deliveries:
            return np.zeros((0, 4), np.int64)
        return np.concatenate(self._deliveries)

    def snapshot(self, done: bool = False) -> Snapshot:
        counts, self._counts = self._counts, dict.fromkeys(self._counts, 0)
        counts["failed"] = len(self._failed)
        if done:
            # Times an ack's offset went below one already acked in its partition: the broker
            # handed those offsets out again, so acknowledged records were overwritten.
            counts["acked_offset_rewinds"] = self._rewinds_before + self.state.counts()["rewinds"]
        errors = [f"{self.name}: {len(self._failed)} records failed, first: {self._failed[0]}"] \
            if self._failed else []
        self._failed = []
        return Snapshot("producer", self.name, self.clock(), counts, self.stats.gauges(),
                        self.hists.take(), done, errors)

    def close(self) -> None:
        self.producer.flush(5)

    def _wait(self, wait_ns: int) -> None:
        if wait_ns > _SPIN_NS:
            self.producer.poll((wait_ns - _SPIN_NS // 2) / 1e9)  # serves acks while waiting
        elif wait_ns > 0:
            time.sleep(wait_ns / 1e9)

    def _plan(self, lo: int) -> None:
        """Encode the schedule's records from sequence number lo on, up to _BATCH of them."""
        self._record_lateness()
        limit = self.schedule.records
        hi = lo + _BATCH if limit is None else max(lo, min(lo + _BATCH, limit))
        self._plan_lo = lo
        if hi == lo:   # the schedule's last record is sent: nothing more to plan
            self._intended, self._intended_list, self._plan_hi = self._intended[:0], [], hi
            self._planned_all = True
            return
        n, seq = hi - lo, np.arange(lo, hi, dtype=np.int64)
        intended = self.origin_ns + self.schedule.intended(lo, hi)
        key_ids = self.keys.draw(self.rng, n)
        core.encode_values(self.values[:n], key_ids, VERSION_BASE + seq, intended, seq,
                           self.producer_id, self.pool, True)
        self._blob, self._keys = self.values[:n].tobytes(), records.encode_keys(key_ids).tobytes()
        self._intended, self._intended_list = intended, intended.tolist()
        self._plan_lo, self._plan_hi = lo, hi

    def _produce_stamped(self, blob: bytes, keys: bytes, i: int, j: int) -> None:
        """produce() records i..j-1 of an encoded batch, the next sequence numbers, each
        stamped in the sent ring as it goes."""
        size, ring = self.value_bytes, self.sent_ns
        produce, clock, topic, seq = self.producer.produce, self.clock, self.topic, self.sent
        for k in range(i, j):
            ring[seq & (_RING - 1)] = clock()
            seq += 1
            while True:
                try:
                    produce(topic, blob[k * size:(k + 1) * size], keys[8 * k:8 * k + 8])
                    break
                except BufferError:  # local queue full: the broker is behind; wait for acks
                    self.producer.poll(0.005)
        self.sent = seq
        self._counts["sent"] += j - i

    def _record_lateness(self) -> None:
        """sent_intended for the planned records sent since the last call, in one call."""
        lo, hi = max(self._lateness_from, self._plan_lo), self.sent
        if hi > lo:
            seq = np.arange(lo, hi, dtype=np.int64)
            late = self.sent_ns[seq & (_RING - 1)] - self._intended[lo - self._plan_lo:
                                                                    hi - self._plan_lo]
            core.record_latencies(self.hists["sent_intended"], late, self._scratch)
        self._lateness_from = hi

    def _send(self, hi: int) -> None:
        """Closed loop: encode records up to hi now, each intended now, and send them."""
        lo, n = self.sent, hi - self.sent
        seq = np.arange(lo, hi, dtype=np.int64)
        intended = np.full(n, self.clock(), np.int64)
        key_ids = self.keys.draw(self.rng, n)
        core.encode_values(self.values[:n], key_ids, VERSION_BASE + seq, intended, seq,
                           self.producer_id, self.pool, True)
        self._produce_stamped(self.values[:n].tobytes(),
                              records.encode_keys(key_ids).tobytes(), 0, n)
        core.record_latencies(self.hists["sent_intended"],
                              self.sent_ns[seq & (_RING - 1)] - intended, self._scratch)

    def _on_delivery(self, err, msg) -> None:
        if err is None:
            self._acked.append(msg)
        else:
            self._failed.append(str(err))

    def _take_acks(self) -> None:
        while self._acked:
            batch = self._acked[:self.columns.capacity]
            del self._acked[:len(batch)]
            now, n, cols = self.clock(), len(batch), self.columns
            self.state.fold(batch, now, self.hists["ack_intended"], cols)
            seq = cols.key_version[:n] - VERSION_BASE
            core.record_latencies(self.hists["ack_sent"], now - self.sent_ns[seq & (_RING - 1)],
                                  self._scratch)
            self._counts["acked"] += n
            self.first_ack_ns = self.first_ack_ns or now
            self.last_ack_ns = now
            self._counts["acked_without_offset"] += int((cols.offset[:n] < 0).sum())
            self._counts["bytes"] += int(cols.value_size[:n].sum()) + 8 * n
            if self._record_deliveries:
                self._deliveries.append(np.stack([cols.key_id[:n], cols.key_version[:n],
                                                  cols.partition[:n].astype(np.int64),
                                                  cols.offset[:n]], axis=1))
