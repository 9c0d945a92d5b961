"""ChangelogSeeder: writes the keyed changelog a restore will rebuild, and remembers what the
restored state must be."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from confluent_kafka import KafkaException, Producer

from replaybench.format import core, records
from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import Snapshot

_BATCH = 10_000  # records encoded per call into the compiled encoder


@dataclass(frozen=True)
class SeedSpec:
    topic: str
    keys: int
    records: int
    value_bytes: int
    tombstone_ratio: float = 0.0
    random_payload: bool = True
    seed: int = 0
    producer_id: int = 0


@dataclass
class SeedResult:
    expected_versions: np.ndarray  # key id -> last version written
    expected_live: np.ndarray      # key id -> 1 if its last record was not a tombstone
    records: int
    bytes: int
    duration_ns: int


def plan_changelog(spec: SeedSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key ids, versions (0 for tombstones) and tombstone flags in write order.

    Every key is written once first (so the state holds all keys), then updates hit random keys;
    versions count up from 1 per key, across tombstones.
    """
    rng = np.random.default_rng(spec.seed)
    first = np.arange(min(spec.keys, spec.records), dtype=np.int64)
    updates = rng.integers(0, spec.keys, max(0, spec.records - spec.keys), dtype=np.int64)
    key_ids = np.concatenate([first, updates])
    tomb = np.concatenate([np.zeros(len(first), bool),
                           rng.random(len(updates)) < spec.tombstone_ratio])
    versions = np.zeros(len(key_ids), np.int64)
    puts = ~tomb
    # The n-th put of a key gets version n: a stable sort groups puts by key in write order.
    order = np.argsort(key_ids[puts], kind="stable")
    sorted_keys = key_ids[puts][order]
    group_start = np.r_[0, np.flatnonzero(np.diff(sorted_keys)) + 1]
    rank = np.arange(len(sorted_keys)) - np.repeat(group_start, np.diff(np.r_[group_start,
                                                                               len(sorted_keys)]))
    put_versions = np.empty(len(sorted_keys), np.int64)
    put_versions[order] = rank + 1
    versions[puts] = put_versions
    return key_ids, versions, tomb


def expected_state(n_keys: int, key_ids, versions, tomb) -> tuple[np.ndarray, np.ndarray]:
    """The state a correct restore of these records ends in."""
    exp_versions = np.zeros(n_keys, np.int64)
    np.maximum.at(exp_versions, key_ids[~tomb], versions[~tomb])
    last_index = np.full(n_keys, -1, np.int64)
    last_index[key_ids] = np.arange(len(key_ids))  # later writes win in fancy assignment
    written = last_index >= 0
    live = np.zeros(n_keys, np.uint8)
    live[written] = (~tomb[last_index[written]]).astype(np.uint8)
    return exp_versions, live


class ChangelogSeeder:
    """Produces a SeedSpec's changelog as fast as the producer allows (acks=all, idempotent),
    a batch at a time so a coordinator can watch its progress."""

    def __init__(self, client_config: dict, spec: SeedSpec, name: str = "seeder-0") -> None:
        self.spec, self.name = spec, name
        self.clock = Clock()
        self.producer = Producer({"acks": "all", "enable.idempotence": True, "linger.ms": 20,
                                  "batch.size": 1 << 20, "compression.type": "lz4",
                                  **client_config})
        self.pool = records.payload_pool(records.DEFAULT_POOL_BYTES, spec.random_payload, spec.seed)
        self.failures: list[str] = []
        self.key_ids, self.versions, self.tomb = plan_changelog(spec)
        self.keys = records.encode_keys(self.key_ids).tobytes()
        self.values = np.zeros((_BATCH, spec.value_bytes), np.uint8)
        self.next = 0
        self.sent_bytes = 0
        self._reported = (0, 0)
        self._started_ns = 0
        self._duration_ns = 0

    def run(self) -> SeedResult:
        while not self.tick(self.clock() + 10**9).done:
            pass
        return self.result()

    def tick(self, deadline_ns: int) -> Snapshot:
        """Produce batches until deadline_ns; once all are sent, flush and report done."""
        if not self._started_ns:
            self._started_ns = self.clock()
        while self.next < len(self.key_ids) and self.clock() < deadline_ns:
            self._produce_batch()
        done = self.next == len(self.key_ids)
        if done and not self._duration_ns:
            if self.producer.flush(120) or self.failures:
                raise KafkaException(f"seeding {self.spec.topic}: {len(self.failures)} records "
                                     f"failed, first: {self.failures[:1]}")
            self._duration_ns = self.clock() - self._started_ns
        sent = (self.next, self.sent_bytes)
        delta = {"records": sent[0] - self._reported[0], "bytes": sent[1] - self._reported[1]}
        self._reported = sent
        return Snapshot("seeder", self.name, self.clock(), delta,
                        {"remaining_records": float(len(self.key_ids) - self.next)}, {}, done)

    def result(self) -> SeedResult:
        exp_versions, exp_live = expected_state(self.spec.keys, self.key_ids, self.versions,
                                                self.tomb)
        return SeedResult(exp_versions, exp_live, len(self.key_ids), self.sent_bytes,
                          self._duration_ns)

    def close(self) -> None:
        self.producer.flush(5)

    def _produce_batch(self) -> None:
        spec, lo = self.spec, self.next
        hi = min(lo + _BATCH, len(self.key_ids))
        n, size = hi - lo, spec.value_bytes
        intended = np.full(n, self.clock(), np.int64)
        core.encode_values(self.values[:n], self.key_ids[lo:hi], self.versions[lo:hi], intended,
                           np.arange(lo, hi), spec.producer_id, self.pool, spec.random_payload)
        blob, keys, tomb = self.values[:n].tobytes(), self.keys, self.tomb
        for i in range(n):
            j = lo + i
            value = None if tomb[j] else blob[i * size:(i + 1) * size]
            self._produce(keys[8 * j:8 * j + 8], value)
            self.sent_bytes += 8 + (0 if value is None else size)
        self.producer.poll(0)
        self.next = hi

    def _produce(self, key: bytes, value: bytes | None) -> None:
        while True:
            try:
                self.producer.produce(self.spec.topic, value=value, key=key,
                                      on_delivery=self._on_delivery)
                return
            except BufferError:  # local queue full: let deliveries drain it
                self.producer.poll(0.01)

    def _on_delivery(self, err, _msg) -> None:
        if err is not None:
            self.failures.append(str(err))
