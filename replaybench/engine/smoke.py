"""`replaybench smoke`: one restore on an embedded cluster, start to finish, verified exactly.

Seeds a keyed changelog, reads it back from offset 0 with a RestoreReader and compares the state
with what was written. The smallest end-to-end proof that the cluster, the record format and the
core work on this machine.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import NewTopic

from replaybench.clusters import health
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.format import core
from replaybench.roles.restore_reader import RestoreReader, end_offsets
from replaybench.roles.seeder import ChangelogSeeder, SeedSpec

_NS_PER_S = 1e9


@dataclass(frozen=True)
class SmokeResult:
    cluster_start_s: float
    seeded_records: int
    seed_s: float
    restored_records: int
    restored_bytes: int
    restore_s: float
    verification: core.Verification

    def lines(self) -> list[str]:
        v = self.verification
        return [
            f"cluster ready in {self.cluster_start_s:.1f} s",
            f"seeded {self.seeded_records:,} records in {self.seed_s:.1f} s "
            f"({self.seeded_records / self.seed_s:,.0f} records/s)",
            f"restored {self.restored_records:,} records, {self.restored_bytes / 1e6:.1f} MB in "
            f"{self.restore_s:.2f} s ({self.restored_records / self.restore_s:,.0f} records/s, "
            f"{self.restored_bytes / 1e6 / self.restore_s:.1f} MB/s)",
            f"verification: {'exact' if v.exact else 'FAILED'} — {v.keys_expected:,} keys, "
            f"{v.missing} missing, {v.wrong_version} wrong version, {v.not_deleted} not deleted, "
            f"{v.corrupt_records} corrupt, {v.regressions} regressions",
        ]


def run_smoke(cache_dir: Path, brokers: int = 1, keys: int = 50_000, records: int = 200_000,
              value_bytes: int = 100, partitions: int = 4) -> SmokeResult:
    with tempfile.TemporaryDirectory(prefix="replaybench-smoke-") as tmp:
        t0 = time.monotonic_ns()
        with LocalKafkaCluster(Path(tmp), brokers, cache_dir=cache_dir).start() as cluster:
            t1 = time.monotonic_ns()
            topic = "replaybench-smoke"
            client = health.admin(cluster.bootstrap)
            client.create_topics([NewTopic(topic, partitions, min(3, brokers), config={
                "cleanup.policy": "compact"})])[topic].result(60)
            spec = SeedSpec(topic, keys, records, value_bytes, tombstone_ratio=0.02)
            seeded = ChangelogSeeder(cluster.client_config(), spec).run()
            targets = end_offsets(cluster.client_config(), topic, partitions)
            reader = RestoreReader(cluster.client_config(), topic, list(range(partitions)),
                                   targets, keys, partitions)
            t2 = time.monotonic_ns()
            progress = reader.run_to_end(600)
            t3 = time.monotonic_ns()
            reader.close()
            verification = core.verify(seeded.expected_versions, seeded.expected_live,
                                       reader.state)
    return SmokeResult((t1 - t0) / _NS_PER_S, seeded.records, seeded.duration_ns / _NS_PER_S,
                       progress.records, progress.bytes, (t3 - t2) / _NS_PER_S, verification)

