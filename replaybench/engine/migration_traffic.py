"""The applications a migration moves: open-loop producers (live_producer.py) and the members
of one consumer group (group_consumer.py), with where each writes and reads now, the moves a
cutover makes, and the ledger of what they wrote and read on each leg.

A *leg* is the time spent on one cluster: 0 the source, 1 the target, 2 the source again after
a rollback.
"""

from __future__ import annotations

import functools

import numpy as np

from replaybench.engine.group_offsets import OffsetReader
from replaybench.engine.run_state import RunState
from replaybench.roles.group_consumer import GroupConsumer
from replaybench.roles.kinds import Role
from replaybench.roles.live_producer import KeyShare, LiveProducer
from replaybench.roles.schedule import RateSchedule


class MigrationTraffic:
    def __init__(self, state: RunState, topic: str, group: str, reset: str) -> None:
        """topic: the applications' topic (named alike on both clusters); group: the consumer
        group's id; reset: where a member starts, after a move, in a partition its group has
        no committed offset for (on the source, the topic is new: from its start)."""
        self.state, self.topic, self.group, self.reset = state, topic, group, reset
        self.leg = 0
        self.producer_leg = 0
        self.acked: list[np.ndarray] = []                 #: (key, version, partition, leg)
        self.ack_times: dict[int, dict[str, dict]] = {}   #: leg -> producer -> first/last ack

    # -- actors -----------------------------------------------------------------------------

    def spawn(self) -> None:
        s, live = self.state, self.state.spec.live
        for i in range(live.producers):
            s.actor(f"producer-{i}", Role.PRODUCER, functools.partial(
                LiveProducer, {**s.config("producer"), **live.producer_config}, self.topic,
                live.partitions, KeyShare(live.keys, i, live.producers), live.value_bytes,
                RateSchedule.from_spec(live.rate_per_s, live.rate_steps), producer_id=i + 1,
                record_deliveries=True, name=f"producer-{i}"))
        for i in range(live.consumers):
            s.actor(f"consumer-{i}", Role.CONSUMER, functools.partial(
                GroupConsumer, {**s.config("consumer"), **live.consumer_config}, [self.topic],
                self.group, live.keys, live.partitions, "earliest", name=f"consumer-{i}"))

    def start(self) -> None:
        """Producers share one schedule origin, the start of their first tick."""
        s = self.state
        ticker = s.new_ticker()
        origin = ticker.deadline - ticker.tick_ns
        for name in self.producers():
            s.handles[name].call.remote("start", origin)
        for name in self.consumers() + self.producers():
            s.tick(name)

    def producers(self) -> list[str]:
        return self.state.names(Role.PRODUCER)

    def consumers(self) -> list[str]:
        return self.state.names(Role.CONSUMER)

    # -- moves ------------------------------------------------------------------------------

    def stop_producers(self) -> None:
        """No more writes (their in-flight records flushed, and their last acks recorded)."""
        s = self.state
        s.retire(self.producers())
        s.note(s.clock(), [(n, s.call(n, "finish")) for n in self.producers()])

    def move_producers(self, config: dict, leg: int) -> None:
        """Write to another cluster from now on (stopped first, if they were not)."""
        s = self.state
        if any(n in s.ticker.queues for n in self.producers()):
            self.stop_producers()
        for name in self.producers():
            self.ack_times.setdefault(self.producer_leg, {})[name] = s.call(
                name, "switch", {**config, **s.spec.live.producer_config}, self.topic)
            self._take_acked(name, self.producer_leg)
            s.tick(name)
        self.producer_leg = leg
        s.record.event(s.clock(), "producers_moved", leg=leg)

    def consumers_leave(self) -> None:
        """Every member commits and leaves the group on the cluster it reads now."""
        s = self.state
        s.retire(self.consumers())
        s.note(s.clock(), [(n, s.call(n, "leave")) for n in self.consumers()])
        s.record.event(s.clock(), "consumers_left", leg=self.leg)

    def consumers_join(self, config: dict, topics: list[str], leg: int) -> None:
        """Every member joins the group on another cluster, reading `topics` there."""
        s = self.state
        for name in self.consumers():
            s.call(name, "join", {**config, **s.spec.live.consumer_config}, topics, self.reset)
            s.tick(name)
        self.leg = leg
        s.record.event(s.clock(), "consumers_joined", leg=leg, topics=topics, group=self.group)

    # -- conditions -------------------------------------------------------------------------

    def group_caught_up(self, offsets: OffsetReader) -> bool:
        """The group has committed everything the topic holds on that cluster (lag 0, as a
        lag exporter computes it)."""
        return offsets.caught_up(self.group, self.topic, self.state.spec.live.partitions)

    # -- ledger -----------------------------------------------------------------------------

    def finish(self) -> None:
        """The last leg's acks and times, once producers have stopped."""
        s = self.state
        for name in self.producers():
            self.ack_times.setdefault(self.producer_leg, {})[name] = s.call(name, "ack_times")
            self._take_acked(name, self.producer_leg)

    def acked_so_far(self) -> np.ndarray:
        """Every acknowledgement until now, the current leg's taken from the producers (once
        they have stopped: a judgement between two moves)."""
        for name in self.producers():
            self._take_acked(name, self.producer_leg)
        return self.acked_rows()

    def acked_rows(self) -> np.ndarray:
        return np.concatenate(self.acked) if self.acked else np.zeros((0, 4), np.int64)

    def delivered_rows(self) -> np.ndarray:
        parts = [self.state.call(n, "ledger") for n in self.consumers()]
        return np.concatenate(parts) if parts else np.zeros((0, 7), np.int64)

    def write_gap_ns(self, before: int, after: int) -> int:
        """The longest any producer went without an acknowledgement across the step."""
        gaps = [self.ack_times[after][n]["first_ack_ns"] - self.ack_times[before][n]["last_ack_ns"]
                for n in self.producers()
                if self.ack_times.get(after, {}).get(n, {}).get("first_ack_ns")
                and self.ack_times.get(before, {}).get(n, {}).get("last_ack_ns")]
        return max(gaps) if gaps else 0

    def _take_acked(self, name: str, leg: int) -> None:
        rows = self.state.call(name, "take_deliveries")   # key, version, partition, offset
        self.acked.append(np.column_stack([rows[:, :3], np.full(len(rows), leg, np.int64)]))
