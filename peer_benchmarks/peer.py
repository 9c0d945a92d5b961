"""Peer benchmark: replaybench's readers and producer against the Java perf tools that ship in
the Kafka jars, on the same embedded broker and topic, in the same run.

    python peer_benchmarks/peer.py            # ~6 minutes on 2 cores

Restore contests run at the workloads' record sizes (200 B and 1 KiB by default) on one topic per
size. Each contest runs ROUNDS times, the contenders alternating round by round, and compares
medians (the machine is noisy; ratios measured side by side are what count). Prints one line per
contest with the ratio and its target.
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

from replaybench.clusters import health
from replaybench.clusters.artifacts import default_cache_dir, find_java, kafka_artifacts
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.engine import actors
from replaybench.engine.partition_assignment import assign_partitions
from replaybench.engine.ticker import call
from replaybench.meters.clock import Clock
from replaybench.roles.live_producer import KeyShare, LiveProducer
from replaybench.roles.restore_reader import RestoreReader, end_offsets
from replaybench.roles.schedule import RateSchedule
from replaybench.roles.seeder import ChangelogSeeder, SeedSpec

PARTITIONS = 8
# Identical producer settings for both tools (apples to apples, not each tool's defaults).
PRODUCER = {"acks": "all", "linger.ms": "5", "batch.size": "262144", "compression.type": "none"}


# (contest, record size) -> the ratio to ConsumerPerformance it must reach (issue 11)
RESTORE_TARGETS = {("1 reader", 200): 0.8, ("1 reader", 1024): 1.0,
                   ("all readers", 200): 1.0, ("all readers", 1024): 1.2}


def main() -> int:
    args = _args()
    with tempfile.TemporaryDirectory(prefix="rb-peer-") as tmp, \
            LocalKafkaCluster(Path(tmp), 1, cache_dir=default_cache_dir()).start() as cluster, \
            actors.ray_runtime(None):
        java = JavaTools(cluster.bootstrap)
        cfg = cluster.client_config()
        rows = [row for size in args.sizes for row in _restore_contests(cfg, java, size, args)]
        j_prod, r_prod = [], []
        for _ in range(args.rounds):   # alternating, one round of each at a time
            j_prod.append(java.produce(_topic(cfg, "peer-jp"), args.produce_records, 1024))
            r_prod.append(_produce_max(cfg, _topic(cfg, "peer-rp"), args.produce_records))
        rows.append(("producer max at 1 KiB vs Java producer", "MB/s", r_prod, j_prod, 1.0))
        achieved = _fixed_rate(cfg, _topic(cfg, "peer-rate"), args.rate, args.rate_seconds)
        gc.collect()   # producers sit in reference cycles (their callbacks); free them first
        _report(rows, achieved, args)
    return 0


def records_for(size: int) -> int:
    """About 1 GB of changelog, at most the default workloads' 3 M records."""
    return min(3_000_000, 1_000_000_000 // (size + 8))


def _restore_contests(cfg: dict, java: JavaTools, size: int, args) -> list[tuple]:
    """1 reader, all readers and ConsumerPerformance on one topic, the order rotating every
    round so that none always runs first (page cache) or last."""
    records = args.records or records_for(size)
    topic = _seeded_topic(cfg, records, size)
    total = sum(end_offsets(cfg, topic, PARTITIONS).values())
    contenders = {
        "java": lambda: java.consume(topic, total),
        "1 reader": lambda: restore(cfg, topic, records // 4, 1)["records_per_s"],
        "all readers": lambda: restore(cfg, topic, records // 4, args.readers)["records_per_s"],
        "1 reader, confluent-kafka": lambda: restore(cfg, topic, records // 4, 1,
                                                     client="confluent-kafka")["records_per_s"],
    }
    seen = alternate(args.rounds, contenders)
    java_total = [j["total"] for j in seen["java"]]
    java_fetch = [j["fetch"] for j in seen["java"]]
    return [row for name in ("1 reader", "all readers") for row in (
        (f"restore {size} B, {name} vs ConsumerPerformance", "records/s", seen[name],
         java_total, RESTORE_TARGETS.get((name, size))),
        ("  the same vs its fetch-only rate (no group join)", "records/s", seen[name],
         java_fetch, None))] + [
        (f"restore {size} B, 1 reader: native vs confluent-kafka client", "records/s",
         seen["1 reader"], seen["1 reader, confluent-kafka"], None)]


def alternate(rounds: int, contenders: dict) -> dict[str, list[float]]:
    """Every contender once per round; round r starts with contender r (mod n)."""
    names = list(contenders)
    seen: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            seen[name].append(contenders[name]())
            gc.collect()  # clients left in reference cycles would outlive the broker
    return seen


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[200, 1024],
                   help="record value sizes in bytes, comma-separated (the workloads' 200 B and 1 KiB)")
    p.add_argument("--records", type=int, default=0,
                   help="changelog records per size (default: ~1 GB, at most 3 M)")
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--produce-records", type=int, default=500_000)
    p.add_argument("--rate", type=int, default=20_000, help="records/s for the fixed-rate check")
    p.add_argument("--rate-seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


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

    def __init__(self, *args, **kwargs) -> None:
        self.reader = RestoreReader(*args, **kwargs)

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


def restore(cfg: dict, topic: str, n_keys: int, readers: int, settings: dict | None = None,
            client: str = "auto") -> dict:
    """Bytes and records/s from a common start until the last reader reached its targets,
    readers as the engine runs them (Ray actors); `settings`: librdkafka overrides; `client`:
    the restore consumer (restore_batches.open_batches)."""
    targets = end_offsets(cfg, topic, PARTITIONS)
    handles = [actors.spawn(functools.partial(
        TimedRestore, {**cfg, **(settings or {})}, topic, parts, targets, n_keys, PARTITIONS,
        client=client),
        f"r{i}") for i, parts in enumerate(assign_partitions(PARTITIONS, readers))]
    for h in handles:
        call(h, "reader", "ready")                       # processes up before the clock starts
    start = Clock()() + 200_000_000
    refs = [h.call.remote("run_from", start) for h in handles]
    import ray
    results = ray.get(refs, timeout=600)
    for h in handles:
        ray.kill(h)
    seconds = (max(r["caught_up_ns"] for r in results) - start) / 1e9
    return {"mb_per_s": sum(r["bytes"] for r in results) / 1e6 / seconds,
            "records_per_s": sum(targets.values()) / seconds}


def _produce_max(cfg: dict, topic: str, records: int) -> float:
    producer = LiveProducer({**cfg, **PRODUCER}, topic, PARTITIONS, KeyShare(100_000), 1024, None)
    start = producer.clock()
    producer.start(start)
    acked = size = 0
    while producer.sent < records:
        snap = producer.tick(producer.clock() + 100_000_000)
        acked, size = acked + snap.counters["acked"], size + snap.counters["bytes"]
    snap = producer.finish()
    producer.close()   # a client left open would keep dialling the broker after it stops
    size += snap.counters["bytes"]
    return size / 1e6 / ((producer.clock() - start) / 1e9)


def _fixed_rate(cfg: dict, topic: str, rate: int, seconds: float) -> dict:
    producer = LiveProducer({**cfg, **PRODUCER}, topic, PARTITIONS, KeyShare(100_000), 1024,
                            RateSchedule.constant(rate))
    origin = producer.clock()
    producer.start(origin)
    producer.tick(origin + int(seconds * 1e9))
    producer.finish()   # returns once the last record is acknowledged
    producer.close()
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

    def consume(self, topic: str, records: int) -> dict[str, float]:
        """records/s over the tool's whole run (nMsg.sec, the rate issue 11's targets are set
        against: like ours it includes the consumer's start) and without its group join
        (fetch.nMsg.sec, the stricter one)."""
        out = self._run("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server",
                        self.bootstrap, "--topic", topic, "--num-records", str(records),
                        "--timeout", "120000", "--group", f"peer-{time.monotonic_ns()}")
        header, row = [ln for ln in out.strip().splitlines() if ln.strip()][-2:]
        fields = dict(zip([h.strip() for h in header.split(",")], row.split(",")))
        return {"total": float(fields["nMsg.sec"]), "fetch": float(fields["fetch.nMsg.sec"])}

    def produce(self, topic: str, records: int, size: int) -> float:
        out = self._run("org.apache.kafka.tools.ProducerPerformance", "--topic", topic,
                        "--num-records", str(records), "--record-size", str(size),
                        "--throughput", "-1", "--producer-props",
                        f"bootstrap.servers={self.bootstrap}", *[f"{k}={v}" for k, v in PRODUCER.items()])
        match = re.search(r"records/sec \(([\d.]+) MB/sec\)", out.strip().splitlines()[-1])
        return float(match.group(1)) * 1.048576  # the tool's MB is MiB; ours are 10^6 bytes


def _report(rows, achieved: dict, args) -> None:
    print(f"\npeer benchmark: sizes {args.sizes} B, {PARTITIONS} partitions, 1 broker, "
          f"{args.rounds} rounds alternating, medians")
    for name, unit, ours, theirs, target in rows:
        ratio = statistics.median(ours) / statistics.median(theirs)
        verdict = "" if target is None else "ok" if ratio >= target else "BELOW TARGET"
        goal = "" if target is None else f"(target >= {target})"
        print(f"  {name:<58} {statistics.median(ours):11,.1f} vs {statistics.median(theirs):11,.1f} "
              f"{unit}  ratio {ratio:5.2f} {goal:<16} {verdict}"
              f"   rounds: {[round(x, 1) for x in ours]} vs {[round(x, 1) for x in theirs]}")
    ratio = achieved["achieved"] / achieved["target"]
    print(f"  {'fixed rate achieved / target':<58} {achieved['achieved']:11,.0f} vs "
          f"{achieved['target']:11,.0f} rec/s  ratio {ratio:6.4f} (target 1 +- 0.01)  "
          f"{'ok' if abs(ratio - 1) <= 0.01 else 'OUTSIDE TARGET'}")


if __name__ == "__main__":
    sys.exit(main())
