"""Peer benchmark: replaybench's readers and producer against the Java perf tools that ship in
the Kafka jars, on the same embedded broker and topic, in the same run.

    python bench/peer.py            # ~3 minutes on 2 cores

Each contest runs ROUNDS times, alternating the tools, and compares medians (the machine is
noisy; ratios measured side by side are what count). Prints one line per contest with the
ratio and its target.
"""

from __future__ import annotations

import argparse
import functools
import gc
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka.admin import NewTopic

from replaybench import actors
from replaybench.clock import Clock
from replaybench.clusters import health
from replaybench.clusters.artifacts import default_cache_dir, find_java, kafka_artifacts
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.placement import assign_partitions
from replaybench.roles.live_producer import KeyShare, LiveProducer
from replaybench.roles.restore_reader import RestoreReader, end_offsets
from replaybench.roles.schedule import RateSchedule
from replaybench.roles.seeder import ChangelogSeeder, SeedSpec
from replaybench.ticker import call

PARTITIONS = 8
# Identical producer settings for both tools (apples to apples, not each tool's defaults).
PRODUCER = {"acks": "all", "linger.ms": "5", "batch.size": "262144", "compression.type": "none"}


def main() -> int:
    args = _args()
    with tempfile.TemporaryDirectory(prefix="rb-peer-") as tmp, \
            LocalKafkaCluster(Path(tmp), 1, cache_dir=default_cache_dir()).start() as cluster, \
            actors.ray_runtime(None):
        java = JavaTools(cluster.bootstrap)
        cfg = cluster.client_config()
        topic = _seeded_topic(cfg, args.records, args.value_bytes)
        total = sum(end_offsets(cfg, topic, PARTITIONS).values())
        rows = []
        java_mb = _rounds(args.rounds, lambda: java.consume(topic, total))
        one_mb = _rounds(args.rounds, lambda: _restore(cfg, topic, args, readers=1))
        all_mb = _rounds(args.rounds, lambda: _restore(cfg, topic, args, readers=args.readers))
        rows.append(("restore, 1 reader vs Java consumer", one_mb, java_mb, 0.9))
        rows.append((f"restore, {args.readers} readers vs Java consumer", all_mb, java_mb, 1.2))
        j_prod = _rounds(args.rounds, lambda: java.produce(_topic(cfg, "peer-jp"), args.produce_records, 1024))
        r_prod = _rounds(args.rounds, lambda: _produce_max(cfg, _topic(cfg, "peer-rp"), args.produce_records))
        rows.append(("producer max MB/s at 1 KiB vs Java producer", r_prod, j_prod, 1.0))
        achieved = _fixed_rate(cfg, _topic(cfg, "peer-rate"), args.rate, args.rate_seconds)
        _report(rows, achieved, args, java_mb)
    return 0


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=1_000_000, help="changelog records to restore")
    p.add_argument("--value-bytes", type=int, default=1024)
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--produce-records", type=int, default=500_000)
    p.add_argument("--rate", type=int, default=20_000, help="records/s for the fixed-rate check")
    p.add_argument("--rate-seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


def _rounds(n: int, contest) -> list[float]:
    out = []
    for _ in range(n):
        out.append(contest())
        gc.collect()  # clients left in reference cycles would outlive the broker
    return out


def _topic(cfg: dict, prefix: str) -> str:
    name = f"{prefix}-{time.monotonic_ns()}"
    admin = health.admin(cfg["bootstrap.servers"])
    admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(60)
    return name


def _seeded_topic(cfg: dict, records: int, value_bytes: int) -> str:
    topic = _topic(cfg, "peer-restore")
    ChangelogSeeder(cfg, SeedSpec(topic, records // 4, records, value_bytes)).run()
    return topic


class TimedRestore:
    """A RestoreReader that starts at an agreed instant, so parallel readers share a clock."""

    def __init__(self, *args) -> None:
        self.reader = RestoreReader(*args)

    def ready(self) -> bool:
        return True

    def run_from(self, start_ns: int) -> dict:
        self.reader.clock.sleep_until(start_ns)
        self.reader.start()
        while not self.reader.tick(self.reader.clock() + 10**9).done:
            pass
        result = self.reader.result()
        self.reader.close()
        return {"bytes": sum(p.bytes for p in result.partitions.values()),
                "caught_up_ns": result.caught_up_ns}


def _restore(cfg: dict, topic: str, args, readers: int) -> float:
    """MB/s from a common start until the last reader reached its targets, readers as the
    engine runs them (Ray actors)."""
    targets = end_offsets(cfg, topic, PARTITIONS)
    handles = [actors.spawn(functools.partial(
        TimedRestore, cfg, topic, parts, targets, args.records // 4, PARTITIONS), f"r{i}")
        for i, parts in enumerate(assign_partitions(PARTITIONS, readers))]
    for h in handles:
        call(h, "reader", "ready")                       # processes up before the clock starts
    start = Clock()() + 200_000_000
    refs = [h.call.remote("run_from", start) for h in handles]
    import ray
    results = ray.get(refs, timeout=600)
    for h in handles:
        ray.kill(h)
    done = max(r["caught_up_ns"] for r in results)
    return sum(r["bytes"] for r in results) / 1e6 / ((done - start) / 1e9)


def _produce_max(cfg: dict, topic: str, records: int) -> float:
    producer = LiveProducer({**cfg, **PRODUCER}, topic, PARTITIONS, KeyShare(100_000), 1024, None)
    start = producer.clock()
    producer.start(start)
    acked = size = 0
    while producer.sent < records:
        snap = producer.tick(producer.clock() + 100_000_000)
        acked, size = acked + snap.counters["acked"], size + snap.counters["bytes"]
    snap = producer.finish()
    size += snap.counters["bytes"]
    return size / 1e6 / ((producer.clock() - start) / 1e9)


def _fixed_rate(cfg: dict, topic: str, rate: int, seconds: float) -> dict:
    producer = LiveProducer({**cfg, **PRODUCER}, topic, PARTITIONS, KeyShare(100_000), 1024,
                            RateSchedule.constant(rate))
    origin = producer.clock()
    producer.start(origin)
    producer.tick(origin + int(seconds * 1e9))
    producer.finish()   # returns once the last record is acknowledged
    return {"target": rate, "achieved": producer.sent / ((producer.clock() - origin) / 1e9)}


class JavaTools:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.cp = f"{kafka_artifacts().fetch(default_cache_dir())}/*"
        self.java = find_java().path

    def _run(self, main: str, *args: str) -> str:
        out = subprocess.run([self.java, "-Xmx1g", "-cp", self.cp, main, *args],
                             capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"{main} failed: {out.stderr.strip()[-500:]}")
        return out.stdout

    def consume(self, topic: str, records: int) -> float:
        """fetch.MB.sec: the Java tool's throughput without its group-join time."""
        out = self._run("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server",
                        self.bootstrap, "--topic", topic, "--num-records", str(records),
                        "--timeout", "120000", "--group", f"peer-{time.monotonic_ns()}")
        header, row = [ln for ln in out.strip().splitlines() if ln.strip()][-2:]
        fields = dict(zip([h.strip() for h in header.split(",")], row.split(",")))
        return float(fields["fetch.MB.sec"])

    def produce(self, topic: str, records: int, size: int) -> float:
        out = self._run("org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                        "--num-records", str(records), "--record-size", str(size),
                        "--throughput", "-1", "--producer-props",
                        f"bootstrap.servers={self.bootstrap}", *[f"{k}={v}" for k, v in PRODUCER.items()])
        match = re.search(r"records/sec \(([\d.]+) MB/sec\)", out.strip().splitlines()[-1])
        return float(match.group(1)) * 1.048576  # the tool's MB is MiB; ours are 10^6 bytes


def _report(rows, achieved: dict, args, java_mb) -> None:
    print(f"\npeer benchmark: {args.records:,} records of {args.value_bytes} B, {PARTITIONS} "
          f"partitions, 1 broker, {args.rounds} rounds, medians")
    for name, ours, theirs, target in rows:
        ratio = statistics.median(ours) / statistics.median(theirs)
        verdict = "ok" if ratio >= target else "BELOW TARGET"
        print(f"  {name:<48} {statistics.median(ours):8.1f} vs {statistics.median(theirs):8.1f} MB/s"
              f"  ratio {ratio:5.2f} (target >= {target})  {verdict}"
              f"   rounds: {[round(x, 1) for x in ours]} vs {[round(x, 1) for x in theirs]}")
    ratio = achieved["achieved"] / achieved["target"]
    print(f"  {'fixed rate achieved / target':<48} {achieved['achieved']:8.0f} vs "
          f"{achieved['target']:8.0f} rec/s  ratio {ratio:6.4f} (target 1 +- 0.01)  "
          f"{'ok' if abs(ratio - 1) <= 0.01 else 'OUTSIDE TARGET'}")


if __name__ == "__main__":
    sys.exit(main())
