"""TailConsumer: reads live records as they arrive and records end-to-end latency
(receive - intended send time) into an HDR histogram, checking every record with the core."""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import Consumer, TopicPartition

from replaybench.format import core
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import IntervalHistograms, Snapshot
from replaybench.roles.client_stats import ClientStats

TAIL_CONSUMER_DEFAULTS = {"enable.auto.commit": False, "fetch.wait.max.ms": 10,
                          "fetch.min.bytes": 1, "enable.partition.eof": False}
#: the live consumers commit as an application does (librdkafka's defaults: the offsets taken
#: are committed every 5 s), so that a lag exporter sees their group as it would a real one's
COMMITS_AS_AN_APPLICATION = {"enable.auto.commit": True, "auto.commit.interval.ms": 5000}
_BATCH = 5_000
_CHECKED = ("duplicates", "regressions", "truncated", "bad_magic", "bad_version", "bad_checksum",
            "bad_key", "key_out_of_range", "errors")


def tail(consumer: Consumer, clock: Clock, deadline_ns: int,
         take: Callable[[list], None]) -> None:
    """Hand each batch to `take` as soon as it arrives, until deadline_ns. poll() returns as
    soon as one record is there; consume(timeout=0) then takes what is already queued.
    (consume(n, t) alone would wait for n records or t seconds, adding up to t to every
    latency.)"""
    while (remaining := deadline_ns - clock()) > 0:
        first = consumer.poll(min(remaining / 1e9, 0.1))
        if first is not None:
            take([first] + consumer.consume(_BATCH - 1, timeout=0))


def group_of(topic: str) -> str:
    """The group the tail consumers of `topic` commit in, as a lag exporter shows them."""
    return f"replaybench-tail-{topic}"


class TailConsumer:
    METRICS = ("e2e",)

    def __init__(self, client_config: dict, topic: str, n_partitions: int, n_keys: int,
                 name: str = "tail-0") -> None:
        self.name, self.topic, self.n_partitions = name, topic, n_partitions
        self.clock = Clock()
        self.stats = ClientStats()
        self.consumer = Consumer({**TAIL_CONSUMER_DEFAULTS, **COMMITS_AS_AN_APPLICATION,
                                  "group.id": group_of(topic),
                                  **client_config, **self.stats.config})
        self.state = core.StateTable(n_keys, n_partitions)
        self.hists = IntervalHistograms(self.METRICS)
        self._reported = self.state.counters.copy()

    def start(self, offsets: dict[int, int] | None = None) -> None:
        """Tail from `offsets` (partition -> offset); None: from the beginning (a fresh topic)."""
        offsets = offsets or {p: 0 for p in range(self.n_partitions)}
        self.consumer.assign([TopicPartition(self.topic, p, o) for p, o in offsets.items()])

    def tick(self, deadline_ns: int) -> Snapshot:
        tail(self.consumer, self.clock, deadline_ns,
             lambda messages: self.state.fold(messages, self.clock(), self.hists["e2e"]))
        return self.snapshot()

    def positions(self) -> dict[int, int]:
        """Next offset to read per partition (-1: nothing read yet)."""
        return dict(enumerate(self.state.next_offset.tolist()))

    def snapshot(self, done: bool = False) -> Snapshot:
        delta = self.state.counters - self._reported
        self._reported = self.state.counters.copy()
        counts = dict(zip(FOLD_COUNTERS, delta.tolist()))
        out = {"records": counts["records"], "bytes": counts["bytes"],
               **{name: counts[name] for name in _CHECKED}}
        return Snapshot("consumer", self.name, self.clock(), out, self.stats.gauges(),
                        self.hists.take(), done)

    def close(self) -> None:
        self.consumer.close()
