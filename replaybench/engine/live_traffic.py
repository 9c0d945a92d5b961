"""The roles around a restore, whatever engine restores: the seeder that writes the changelog
(or an application's input), the live producers and the tail consumers, with the conditions
phases wait on (seeded, steady, settled, drained) and their own checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from replaybench.engine import role_builds as build
from replaybench.engine.run_state import RunState
from replaybench.roles import tail_consumer
from replaybench.roles.kinds import Role
from replaybench.roles.restore_reader import end_offsets
from replaybench.verdicts.restore_verification import judge_live

SEEDER = "seeder-0"


class LiveTraffic:
    def __init__(self, state: RunState,
                 consumer: Callable[[int, int, int], Callable] | None = None) -> None:
        """consumer: (i, keys, partitions) -> the build of tail consumer i (default: one
        reading the live topic; a Kafka Streams run reads the application's output)."""
        self.state = state
        self.consumer = consumer or self._tail_consumer
        self.seeded = None   #: the seeder's result: what the changelog holds, key by key
        self._calm = 0       #: recovery: ticks in a row with p99 back near the baseline

    # -- actors -----------------------------------------------------------------------------

    def use_consumer(self, consumer: Callable[[int, int, int], Callable] | None) -> None:
        """What the tail consumers read, as the restore engine says (None: the live topic)."""
        if consumer is not None:
            self.consumer = consumer

    def spawn(self) -> None:
        s = self.state
        if not s.spec.topic.existing:   # a replayed topic is read, never written
            s.actor(SEEDER, Role.SEEDER, build.seeder(s.spec, s.config("seeder"),
                                                      s.topics.changelog))
        keys, parts = self.layout()
        for i in range(s.spec.live.producers):
            s.actor(f"producer-{i}", Role.PRODUCER, build.producer(
                s.spec, s.config("producer"), s.topics.live, i, keys, parts, self.appends()))
        for i in range(s.spec.live.consumers):
            s.actor(f"consumer-{i}", Role.CONSUMER, self.consumer(i, keys, parts))
        if s.spec.live.consumers and self.consumer == self._tail_consumer:
            # the group a lag exporter shows them in: this run's, not another run's on the
            # same cluster (verdicts/observability.py)
            s.record.event(s.clock(), "live_group", group=tail_consumer.group_of(s.topics.live))

    def _tail_consumer(self, i: int, keys: int, parts: int) -> Callable:
        s = self.state
        return build.tail_consumer(s.spec, s.config("consumer"), s.topics.live, i, keys, parts)

    # -- seed -------------------------------------------------------------------------------

    def start_seed(self) -> None:
        self.state.new_ticker()
        self.state.tick(SEEDER)

    def seed_written(self) -> bool:
        s = self.state
        if s.done.get(SEEDER) and SEEDER not in s.ticker.retiring:
            s.ticker.retire(SEEDER)
        return not s.ticker.queues

    def end_seed(self, after_seed: Callable[[], dict | None] | None) -> None:
        """The seeder's result, then the cluster's own settling (a flush, an offload)."""
        s = self.state
        self.seeded = s.call(SEEDER, "result")
        s.record.event(s.clock(), "seeded", records=self.seeded.records,
                       bytes=self.seeded.bytes, duration_ns=self.seeded.duration_ns)
        s.kill(SEEDER)
        if after_seed:
            start = s.clock()
            seen = after_seed() or {}
            s.record.event(s.clock(), "seed_flushed", duration_ns=s.clock() - start, **seen)

    # -- live -------------------------------------------------------------------------------

    def start(self, tail_offsets: dict[int, int] | None) -> None:
        """Producers share one schedule origin, the start of their first tick; tail consumers
        start at tail_offsets (None: from 0, a fresh topic)."""
        s = self.state
        for name in s.names(Role.CONSUMER):
            s.call(name, "start", tail_offsets)
        ticker = s.new_ticker()
        origin = ticker.deadline - ticker.tick_ns
        for name in s.names(Role.PRODUCER):
            s.handles[name].call.remote("start", origin)
        for name in s.names(Role.CONSUMER) + s.names(Role.PRODUCER):
            s.tick(name)

    def live_topic_end(self) -> dict[int, int] | None:
        """Where tail consumers of the live topic start: its end when it holds the seed."""
        if not self.appends():
            return None
        s = self.state
        return end_offsets(s.client_config, s.topics.live, s.spec.topic.partitions)

    def producing(self) -> bool:
        return bool(self.state.names(Role.PRODUCER))

    def steady(self) -> bool:
        """Warmup: the last 2 x settle_ticks ticks' producer p99 each within 2x of the lowest
        tick p99 seen so far (steady *and* low: a broker can be steadily slow while it compiles;
        twice settle_ticks, so that a few quiet ticks in a noisy stretch do not end it)."""
        s = self.state
        settle = s.spec.phases.settle_ticks
        seen = [r["p99_ns"] for r in s.record.timeseries if r["role"] == "producer"
                and r["phase"] == "warmup" and r["latency_count"]]
        recent = seen[-2 * settle:]
        if len(recent) == 2 * settle and max(recent) <= 2 * min(seen):
            s.record.event(s.clock(), "steady", p99_ns=recent)
            return True
        return False

    def settled(self) -> bool:
        """Recovery: live p99 within settle_ratio of the baseline's for settle_ticks ticks."""
        s = self.state
        phases = s.spec.phases
        baseline_p99 = s.record.latency("baseline", "producer").percentile(99.0)
        p99 = next(r["p99_ns"] for r in reversed(s.record.timeseries) if r["role"] == "producer")
        self._calm = self._calm + 1 if baseline_p99 and \
            p99 <= phases.settle_ratio * baseline_p99 else 0
        if self._calm >= phases.settle_ticks:
            s.record.event(s.clock(), "settled", p99_ns=p99, baseline_p99_ns=baseline_p99)
            return True
        return False

    def stop_producers(self) -> None:
        """Retire the producers, then record what their last flush brought in."""
        s = self.state
        producers = s.names(Role.PRODUCER)
        s.retire(producers)
        s.note(s.clock(), [(n, s.call(n, "finish")) for n in producers])

    def consumers_caught_up(self) -> bool:
        s = self.state
        acked = s.total(Role.PRODUCER, "acked")
        return all(s.consumed(n) >= acked for n in s.names(Role.CONSUMER))

    def retire_consumers(self) -> None:
        self.state.retire(self.state.names(Role.CONSUMER))

    # -- checks -----------------------------------------------------------------------------

    def verify(self) -> None:
        """Every acknowledged record is in the live topic, and each tail consumer read each
        exactly once."""
        s = self.state
        if not s.names(Role.PRODUCER):
            return
        ends = end_offsets(s.client_config, s.topics.live, self.layout()[1])
        seeded = self.seeded.records if self.appends() and self.seeded else 0
        if blind := s.total(Role.PRODUCER, "acked_without_offset"):
            s.record.event(s.clock(), "acks_without_offset", records=blind)
        consumers = s.names(Role.CONSUMER)
        s.record.verification.extend(judge_live(
            s.total(Role.PRODUCER, "acked"), sum(ends.values()) - seeded,
            s.total(Role.PRODUCER, "acked_offset_rewinds"),
            {n: s.consumed(n) for n in consumers}, s.summed(consumers)))

    def appends(self) -> bool:
        """Whether live traffic appends to the changelog (the restore then chases it)."""
        return self.state.spec.live.topic == "changelog"

    def layout(self) -> tuple[int, int]:
        """(keys, partitions) of the topic live traffic goes to."""
        spec = self.state.spec
        if self.appends():
            return spec.seed.keys, spec.topic.partitions
        return spec.live.keys, spec.live.partitions

    def changelog_deliveries(self) -> np.ndarray:
        """Where each live update to the changelog landed (producer, key, partition, offset)."""
        if not self.appends():
            return np.zeros((0, 4), np.int64)
        s = self.state
        parts = [s.call(n, "deliveries") for n in s.names(Role.PRODUCER)]
        return np.concatenate(parts) if parts else np.zeros((0, 4), np.int64)
