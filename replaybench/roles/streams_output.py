"""StreamsOutput: tails the Kafka Streams application's output topic and records the end-to-end
latency of live input through the application: receive time minus the intended send time of
the input update the output carries (so coordinated omission is corrected, as for the tail
consumer)."""

from __future__ import annotations

import numpy as np
from confluent_kafka import Consumer, TopicPartition

from replaybench.format import core
from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import IntervalHistograms, Snapshot
from replaybench.roles.client_stats import ClientStats
from replaybench.roles.tail_consumer import TAIL_CONSUMER_DEFAULTS, tail

AGGREGATE_BYTES = 24      # version, count, intended send ns: little-endian int64 each


class StreamsOutput:
    METRICS = ("e2e",)

    def __init__(self, client_config: dict, topic: str, n_partitions: int,
                 name: str = "consumer-0") -> None:
        self.name, self.topic, self.n_partitions = name, topic, n_partitions
        self.clock = Clock()
        self.stats = ClientStats()
        # read_committed: under exactly-once, output of an aborted transaction is not output.
        self.consumer = Consumer({**TAIL_CONSUMER_DEFAULTS, "group.id": f"replaybench-{topic}",
                                  "isolation.level": "read_committed", **client_config,
                                  **self.stats.config})
        self.hists = IntervalHistograms(self.METRICS)
        self._scratch = np.zeros(18, np.int64)
        self._counts = {"records": 0, "bytes": 0, "malformed": 0}

    def start(self, offsets: dict[int, int] | None = None) -> None:
        offsets = offsets or {p: 0 for p in range(self.n_partitions)}
        self.consumer.assign([TopicPartition(self.topic, p, o) for p, o in offsets.items()])

    def tick(self, deadline_ns: int) -> Snapshot:
        tail(self.consumer, self.clock, deadline_ns,
             lambda messages: self._take(messages, self.clock()))
        return self.snapshot()

    def snapshot(self, done: bool = False) -> Snapshot:
        counts, self._counts = self._counts, dict.fromkeys(self._counts, 0)
        return Snapshot("consumer", self.name, self.clock(), counts, self.stats.gauges(),
                        self.hists.take(), done)

    def close(self) -> None:
        self.consumer.close()

    def _take(self, messages: list, now_ns: int) -> None:
        values = [m.value() for m in messages if m.error() is None]
        good = [v for v in values if v is not None and len(v) == AGGREGATE_BYTES]
        self._counts["records"] += len(values)
        self._counts["bytes"] += sum(len(v) for v in good)
        self._counts["malformed"] += len(values) - len(good)
        if good:
            intended = np.frombuffer(b"".join(good), "<i8").reshape(-1, 3)[:, 2]
            core.record_latencies(self.hists["e2e"], now_ns - intended, self._scratch)
