"""Restore-reader settings sweep: which librdkafka properties let a catch-up read run at the
client's real speed, across record sizes and reader counts. The restore readers' defaults
(roles/restore_reader.RESTORE_CONSUMER_DEFAULTS) come from this sweep.

    python peer_benchmarks/restore_settings.py            # ~8 minutes on 2 cores

For each record size one topic of ~300 MB is seeded on an embedded broker; then every setting is
timed with 1 and with N readers, the settings alternating round by round. Prints records/s
(median) per setting and its ratio to the first setting (librdkafka's own defaults for the
properties swept).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from replaybench.clusters.artifacts import default_cache_dir
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.engine import actors

from peer import PARTITIONS, _seeded_topic, alternate, restore

# name -> librdkafka overrides on top of the readers' other defaults
SETTINGS = {
    # librdkafka's own, as the readers shipped before
    "librdkafka defaults": {"fetch.queue.backoff.ms": 1000, "queued.min.messages": 100_000},
    "backoff 10 ms": {"fetch.queue.backoff.ms": 10, "queued.min.messages": 100_000},
    "backoff 1 ms": {"fetch.queue.backoff.ms": 1, "queued.min.messages": 100_000},
    "backoff 10 ms, min 1 M": {"fetch.queue.backoff.ms": 10, "queued.min.messages": 1_000_000},
    "backoff 10 ms, min 1 M, 64 MiB queue": {"fetch.queue.backoff.ms": 10,
                                             "queued.min.messages": 1_000_000,
                                             "queued.max.messages.kbytes": 64 << 10},
}


def main() -> int:
    args = _args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="rb-sweep-") as tmp, \
            LocalKafkaCluster(Path(tmp), 1, cache_dir=default_cache_dir()).start() as cluster, \
            actors.ray_runtime(None):
        cfg = cluster.client_config()
        for size in args.sizes:
            records = max(20_000, args.megabytes * 1_000_000 // (size + 8))
            topic = _seeded_topic(cfg, records, size)
            for readers in sorted({1, args.readers}):
                seen = alternate(args.rounds, {
                    name: (lambda s=settings, t=topic, k=records // 4, r=readers:
                           restore(cfg, t, k, r, s)["records_per_s"])
                    for name, settings in SETTINGS.items()})
                rows.append((size, readers, {n: statistics.median(v) for n, v in seen.items()}))
                _print_row(*rows[-1])
    return 0


def _print_row(size: int, readers: int, medians: dict[str, float]) -> None:
    first = next(iter(medians.values()))
    cells = "  ".join(f"{name}: {v:,.0f}/s ({v / first:.2f}x)" for name, v in medians.items())
    print(f"{size:>6} B, {readers} reader{'s' if readers > 1 else ' '}  {cells}", flush=True)


def _args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                   default=[100, 200, 1024, 16384, 65536])
    p.add_argument("--megabytes", type=int, default=300, help="changelog size per record size")
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    return p.parse_args()


if __name__ == "__main__":
    print(f"{PARTITIONS} partitions, 1 broker; records/s, medians", flush=True)
    sys.exit(main())
