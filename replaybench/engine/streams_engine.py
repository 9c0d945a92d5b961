"""A Kafka Streams application as the restore engine (storm.engine: kafka-streams).

Against the same schedule as the readers:
- seed: the seeder writes the application's input; the instances start and process it into
  their RocksDB stores, and Kafka Streams writes the stores' changelog;
- live traffic goes to the input, through the application, to its output topic, where the
  output consumer measures end-to-end latency;
- storm: `streams.lose_state` instances crash, lose their state directory and restart; the
  storm lasts until each is RUNNING with nothing left to restore ("useful again");
- after recovery (streams.compare_readers): replaybench's readers restore the same changelog
  read-only, side by side, in phase `replay`;
- drain: until the application has committed every input offset; verify: every key's count
  of applied updates and last version, read from the instances' stores.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from replaybench.clusters import health
from replaybench.engine import role_builds as build
from replaybench.engine.partition_assignment import assign_partitions
from replaybench.engine.phases import Phase
from replaybench.engine.reader_engine import holdup, retire_caught_up, start_group
from replaybench.engine.restore_engine import RestoreEngine
from replaybench.engine.run_parts import Group, RunFailed
from replaybench.kafka.client_config import java_properties
from replaybench.roles.kinds import Role
from replaybench.roles.restore_reader import end_offsets, log_start_offsets
from replaybench.roles.streams_instance import CHANGELOG_RECORD_BYTES, StreamsInstance
from replaybench.roles.streams_output import StreamsOutput
from replaybench.verdicts.restore_verification import check, judge_replay
from replaybench.verdicts.streams_verification import judge_streams, restore_partitions

STORE = "rb-aggregate"          #: the store's name in the application (AggregateTopology.java)
PROCESS_SEED_TIMEOUT_NS = 300_000_000_000


class StreamsEngine(RestoreEngine):
    name = "kafka-streams"

    def __init__(self, *args, app=None, application_id: str = "", output: str = "",
                 **kwargs) -> None:
        """app: the built application (clusters.streams_app.StreamsApp); application_id: the
        Kafka Streams application id (its group and its changelog's prefix); output: the
        output topic, made by the runner."""
        super().__init__(*args, **kwargs)
        self.app, self.application_id, self.output = app, application_id, output
        self.changelog = changelog_of(application_id)
        self.lost: dict[str, int] = {}   #: instance -> when it lost its state (wall ns)
        self.lose: list[str] = []
        self._read = -1                  #: drain: output records read at the previous tick

    # -- actors -----------------------------------------------------------------------------

    def consumer(self) -> Callable[[int, int, int], Callable]:
        s = self.state

        def output(i: int, _keys: int, _parts: int) -> Callable:
            return functools.partial(StreamsOutput, {**s.config("consumer"),
                                                     **s.spec.live.consumer_config},
                                     self.output, s.spec.topic.partitions, name=f"consumer-{i}")
        return output

    def spawn(self) -> None:
        s, streams = self.state, self.state.spec.streams
        for i in range(streams.instances):
            name = f"streams-{i}"
            s.actor(name, Role.STREAMS, functools.partial(
                StreamsInstance, self.app.java, self.app.classpath, self._properties(name),
                name=name, options=self.app.options, archive=self.app.archive))
        self.lose = [f"streams-{i}" for i in range(streams.lose_state)]
        # Whose recovery is the restore: with static membership the wiped instances get their
        # own tasks back; otherwise tasks may fail over, so every instance is watched.
        wipe = streams.loss == "wipe"
        watched = self.lose if wipe and streams.static_membership else \
            [n for n in s.names(Role.STREAMS) if wipe or n not in self.lose]
        s.groups.append(Group(0, watched))
        s.on_tick.append(retire_caught_up)   # the side-by-side readers, later

    def _properties(self, name: str) -> dict[str, str]:
        s = self.state
        return application_properties(s.spec.streams, self.application_id, name,
                                      s.config("streams"), s.topics.changelog, self.output)

    # -- seed and live ----------------------------------------------------------------------

    def after_seed(self) -> None:
        """The instances start and process the seed into their stores (and changelog)."""
        s = self.state
        for name in s.names(Role.STREAMS):
            s.record.event(s.clock(), "streams_started", actor=name, pid=s.call(name, "start"))
        s.new_ticker()
        for name in s.names(Role.STREAMS):
            s.tick(name)
        deadline = s.clock() + PROCESS_SEED_TIMEOUT_NS
        while not self._processed_everything():
            if s.clock() > deadline:
                raise RunFailed("the Kafka Streams application did not process its input "
                                "within 300 s of the seed")
            s.step()
        s.record.event(s.clock(), "seed_processed", changelog=self.changelog)

    def tail_offsets(self) -> dict[int, int]:
        s = self.state
        return end_offsets(s.client_config, self.output, s.spec.topic.partitions)

    def join_live(self) -> None:
        for name in self.state.names(Role.STREAMS):   # events keep flowing into the record
            self.state.tick(name)

    # -- storm ------------------------------------------------------------------------------

    def start(self) -> None:
        s = self.state
        group = s.groups[0]
        s.targets = end_offsets(s.client_config, self.changelog, s.spec.topic.partitions)
        group.start_ns = s.clock()
        s.record.event(group.start_ns, "targets", offsets=s.targets)
        wipe, static = s.spec.streams.loss == "wipe", s.spec.streams.static_membership
        for name in self.lose:
            self.lost[name] = s.call(name, "lose_state", static) if wipe else \
                s.call(name, "kill")
            s.record.event(self.lost[name], "state_lost", actor=name, restarted=wipe)
        for name in group.readers:
            if name not in self.lose:
                s.call(name, "watch_failover", min(self.lost.values()))

    def caught_up(self) -> bool:
        """Every watched instance RUNNING with nothing left to restore."""
        s = self.state
        return all(s.done.get(n) for n in s.groups[0].readers)

    def behind(self) -> str:
        s = self.state
        late = [n for n in s.groups[0].readers if not s.done.get(n)]
        s.record.event(s.clock(), "storm_timeout", instances=late)
        return (f"Kafka Streams instances not RUNNING with their state restored within "
                f"phases.storm_timeout_s={s.spec.phases.storm_timeout_s:g}: {', '.join(late)}")

    def restored_percent(self) -> float:
        """Records the lost instances restored, against their share of the changelog (Kafka
        Streams restores a compacted changelog, so this may stop short of 100)."""
        s = self.state
        done = sum(s.per_actor.get(n, {}).get("records", 0) for n in s.groups[0].readers)
        share = len(s.groups[0].readers) / s.spec.streams.instances
        return 100 * done / (share * sum(s.targets.values()) or 1)

    def end_storm(self) -> None:
        s = self.state
        group = s.groups[0]
        group.caught_up_ns = max(r["useful_ns"] for n in group.readers
                                 for r in s.call(n, "recovery_log")[-1:])

    # -- the readers, side by side ----------------------------------------------------------

    def after_recovery(self) -> list[Phase]:
        """The same changelog, now restored by replaybench's readers (read-only, foreign
        mode) under the same live input: group 1, in phase `replay`."""
        if not (self.state.spec.streams.compare_readers and self.state.spec.storm.readers):
            return []
        replay = _SideBySide(self)
        return [Phase("replay", start=replay.start, until=replay.done, end=replay.judge)]

    # -- drain and verify -------------------------------------------------------------------

    def drained(self) -> bool:
        """The application has committed every input offset, then the output consumers read
        nothing new for a whole tick (the output's end offsets also count transaction markers
        and aborted output under exactly-once, so they cannot say when reading is done)."""
        s = self.state
        if self._read < 0 and not self._processed_everything():
            return False
        read = sum(s.consumed(n) for n in s.names(Role.CONSUMER))
        done, self._read = read == self._read, read
        return done

    def end_drain(self) -> None:
        self.live.retire_consumers()

    def verify(self) -> None:
        s = self.state
        group = s.groups[0]
        alive = [n for n in s.names(Role.STREAMS)
                 if s.spec.streams.loss == "wipe" or n not in self.lose]
        stores = [s.call(n, "dump_rows") for n in alive]
        recoveries = {n: s.call(n, "recovery_log") for n in group.readers}
        histories = {n: s.call(n, "event_history") for n in s.names(Role.STREAMS)}
        verdict = judge_streams(np.concatenate(stores), self.live.seeded.expected_versions,
                                self.live.changelog_deliveries(), recoveries,
                                s.spec.streams.processing_guarantee)
        partitions = restore_partitions(histories, self.lost, CHANGELOG_RECORD_BYTES)
        restored = sum(r["records"] for r in partitions)   # after the loss, by every instance
        s.record.groups.append({
            **verdict.group_row, "group": 0, "readers": len(group.readers),
            "started_ns": group.start_ns, "records": restored,
            "bytes": restored * CHANGELOG_RECORD_BYTES,
            "target_records": sum(r["end_offset"] - r["start_offset"] for r in partitions),
            "reader_client": "kafka-streams"})
        s.record.partitions.extend(partitions)
        s.record.groups.sort(key=lambda g: g["group"])   # the readers' replay came first
        s.record.verification.extend(verdict.checks)
        self._verify_live_acks()

    def _verify_live_acks(self) -> None:
        """Live traffic's own checks, without the tail consumer's (its output is the
        application's, counted in the store)."""
        s = self.state
        ends = end_offsets(s.client_config, s.topics.changelog, s.spec.topic.partitions)
        acked = s.total(Role.PRODUCER, "acked")
        s.record.verification.extend([
            check("live", "acked_records_vs_offsets",
                  sum(ends.values()) - self.live.seeded.records, acked),
            check("live", "acked_offset_rewinds", 0,
                  s.total(Role.PRODUCER, "acked_offset_rewinds"))])

    def close(self) -> None:
        close_instances(self.state, self.state.names(Role.STREAMS))

    def _processed_everything(self) -> bool:
        """The application's group has committed the input's end offsets on every partition."""
        s = self.state
        parts = s.spec.topic.partitions
        ends = end_offsets(s.client_config, s.topics.changelog, parts)
        committed = committed_offsets(s.client_config, self.application_id,
                                      s.topics.changelog, parts)
        return all(committed.get(p, -1) >= end for p, end in ends.items())


class _SideBySide:
    """replaybench's readers on the application's changelog, as restore group 1."""

    def __init__(self, engine: StreamsEngine) -> None:
        self.engine, self.state = engine, engine.state
        self.group = Group(1, [])
        self.targets: dict[int, int] = {}
        self.starts: dict[int, int] = {}

    def start(self) -> None:
        s, spec = self.state, self.state.spec
        parts = spec.topic.partitions
        for r, mine in enumerate(assign_partitions(parts, spec.storm.readers)):
            self.group.readers.append(f"reader-1-{r}")
            s.actor(self.group.readers[-1], Role.READER, build.reader(
                spec, s.config("reader"), self.engine.changelog, 1, r, mine, foreign=True))
        s.groups.append(self.group)
        self.targets = end_offsets(s.client_config, self.engine.changelog, parts)
        self.starts = log_start_offsets(s.client_config, self.engine.changelog, parts)
        start_group(s, self.group, self.targets)

    def done(self) -> bool:
        return not any(n in self.state.ticker.queues for n in self.group.readers)

    def judge(self) -> None:
        s = self.state
        results = [s.call(n, "result") for n in self.group.readers]
        verdict = judge_replay(1, self.group.start_ns, results, self.targets, self.starts)
        s.record.groups.append({**verdict.group_row,
                                **holdup(s, self.group, verdict.group_row)})
        s.record.partitions.extend(verdict.partition_rows)
        s.record.verification.extend(verdict.checks)


def changelog_of(application_id: str) -> str:
    """The store's changelog topic, as Kafka Streams names it."""
    return f"{application_id}-{STORE}-changelog"


def application_properties(streams, application_id: str, name: str, config: dict,
                           input_topic: str, output: str) -> dict[str, str]:
    """One instance's StreamsConfig (streams: the workload's `streams` section; config: the
    cluster's client settings, with the instance's login where secured)."""
    # Static membership, as a StatefulSet runs it: a restarted instance takes its tasks back
    # at once instead of waiting out the session timeout and a rebalance.
    static = {"group.instance.id": f"{application_id}-{name}"} \
        if streams.static_membership else {}
    return {"application.id": application_id, **static,
            # the cluster's address and, secured, this principal's login (Java's spelling)
            **java_properties(config),
            "num.stream.threads": str(streams.threads),
            "num.standby.replicas": str(streams.standby_replicas),
            "processing.guarantee": streams.processing_guarantee,
            "statestore.cache.max.bytes": "0",
            **{k: str(v) for k, v in streams.config.items()},
            "replaybench.input": input_topic, "replaybench.output": output}


def close_instances(state, names: list[str]) -> None:
    """Keep what the instances reported (also when the run failed), then close their JVMs
    cleanly, all at once: an instance in ERROR can take its whole close timeout (30 s), and a
    failed run's three took 40 s more one after another. (They also exit when their actor
    dies.)"""
    live = [name for name in names if name in state.handles]
    for name, events in state.call_each(live, "event_history").items():
        record_history(state, name, events)
    state.call_each(live, "close")


def record_history(state, name: str, events: list[dict]) -> None:
    """An instance's state transitions, restores, stops, kills and errors, as run events."""
    for e in events:
        if e["e"] != "restore_batch":
            state.record.event(e["t"], f"streams_{e['e']}", actor=name,
                               **{k: v for k, v in e.items() if k not in ("e", "t")})


def committed_offsets(client_config: dict, group: str, topic: str,
                      partitions: int) -> dict[int, int]:
    admin = health.admin_for(client_config)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p)
                                                   for p in range(partitions)])
    for attempt in range(3):
        try:
            answer = admin.list_consumer_group_offsets([request])[group].result(10)
            return {tp.partition: tp.offset for tp in answer.topic_partitions}
        except Exception:  # noqa: BLE001 - a coordinator moving: ask again
            time.sleep(0.5 * (attempt + 1))
    return {}
