"""The run with a Kafka Streams application as the restore engine (storm.engine: kafka-streams).

The phases are the coordinator's; what differs:
- seed: the seeder writes the application's input; the instances start and process it into
  their RocksDB stores, and Kafka Streams writes the stores' changelog;
- live traffic goes to the input, through the application, to its output topic, where the
  output consumer measures end-to-end latency;
- storm: `streams.lose_state` instances crash, lose their state directory and restart; the run
  waits until each is RUNNING with nothing left to restore ("useful again");
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
from replaybench.engine.client_config import java_properties
from replaybench.engine.coordinator import DRAIN_TIMEOUT_NS, Coordinator
from replaybench.engine.partition_assignment import assign_partitions
from replaybench.engine.run_parts import Group, RunFailed
from replaybench.engine.streams_verification import judge_streams, restore_partitions
from replaybench.engine.ticker import call
from replaybench.engine.verification import check, judge_replay
from replaybench.roles.kinds import Role
from replaybench.roles.restore_reader import end_offsets, log_start_offsets
from replaybench.roles.streams_instance import CHANGELOG_RECORD_BYTES, StreamsInstance
from replaybench.roles.streams_output import StreamsOutput

STORE = "rb-aggregate"          #: the store's name in the application (AggregateTopology.java)
PROCESS_SEED_TIMEOUT_NS = 300_000_000_000


class StreamsCoordinator(Coordinator):
    def __init__(self, *args, app=None, application_id: str = "", output: str = "",
                 **kwargs) -> None:
        """app: the built application (clusters.streams_app.StreamsApp); application_id: the
        Kafka Streams application id (its group and its changelog's prefix); output: the
        output topic, made by the runner."""
        super().__init__(*args, **kwargs)
        self.app, self.application_id, self.output = app, application_id, output
        self.changelog = f"{application_id}-{STORE}-changelog"
        self.lost: dict[str, int] = {}   #: instance -> when it lost its state (wall ns)

    # -- actors -----------------------------------------------------------------------------

    def _consumer(self, i: int, live_keys: int, live_parts: int) -> Callable:
        return functools.partial(StreamsOutput, {**self._config("consumer"),
                                                 **self.spec.live.consumer_config},
                                 self.output, self.spec.topic.partitions, name=f"consumer-{i}")

    def _spawn_restorers(self) -> None:
        for i in range(self.spec.streams.instances):
            name = f"streams-{i}"
            self._actor(name, Role.STREAMS, functools.partial(
                StreamsInstance, self.app.java, self.app.classpath, self._properties(name),
                name=name))
        s = self.spec.streams
        self.lose = [f"streams-{i}" for i in range(s.lose_state)]
        # Whose recovery is the restore: with static membership the wiped instances get their
        # own tasks back; otherwise tasks may fail over, so every instance is watched.
        watched = self.lose if s.loss == "wipe" and s.static_membership else \
            [n for n in self._names(Role.STREAMS) if s.loss == "wipe" or n not in self.lose]
        self.groups.append(Group(0, watched))

    def _properties(self, name: str) -> dict[str, str]:
        s = self.spec.streams
        # Static membership, as a StatefulSet runs it: a restarted instance takes its tasks back
        # at once instead of waiting out the session timeout and a rebalance.
        static = {"group.instance.id": f"{self.application_id}-{name}"} \
            if s.static_membership else {}
        return {"application.id": self.application_id, **static,
                # the cluster's address and, secured, this principal's login (Java's spelling)
                **java_properties(self._config("streams")),
                "num.stream.threads": str(s.threads),
                "num.standby.replicas": str(s.standby_replicas),
                "processing.guarantee": s.processing_guarantee,
                "statestore.cache.max.bytes": "0",
                **{k: str(v) for k, v in s.config.items()},
                "replaybench.input": self.topics.changelog, "replaybench.output": self.output}

    # -- phases -----------------------------------------------------------------------------

    def _seed(self) -> None:
        super()._seed()
        for name in self._names(Role.STREAMS):
            self.record.event(self.clock(), "streams_started", actor=name,
                              pid=self._call(name, "start"))
        ticker = self._new_ticker()
        for name in self._names(Role.STREAMS):
            ticker.add(name, self.handles[name])
        deadline = self.clock() + PROCESS_SEED_TIMEOUT_NS
        while not self._processed_everything():
            if self.clock() > deadline:
                raise RunFailed("the Kafka Streams application did not process its input "
                                "within 300 s of the seed")
            self._step()
        self.record.event(self.clock(), "seed_processed", changelog=self.changelog)

    def _start_live(self) -> None:
        super()._start_live()
        for name in self._names(Role.STREAMS):   # events keep flowing into the record
            self.ticker.add(name, self.handles[name])

    def _tail_offsets(self) -> dict[int, int]:
        return end_offsets(self.client_config, self.output, self.spec.topic.partitions)

    def _storm(self) -> None:
        self._enter("storm")
        group = self.groups[0]
        self.targets = end_offsets(self.client_config, self.changelog,
                                   self.spec.topic.partitions)
        storm_start = group.start_ns = self.clock()
        self.record.event(storm_start, "targets", offsets=self.targets)
        wipe, static = self.spec.streams.loss == "wipe", self.spec.streams.static_membership
        for name in self.lose:
            self.lost[name] = self._call(name, "lose_state", static) if wipe else \
                self._call(name, "kill")
            self.record.event(self.lost[name], "state_lost", actor=name, restarted=wipe)
        for name in group.readers:
            if name not in self.lose:
                self._call(name, "watch_failover", min(self.lost.values()))
        timeout_ns = int(self.spec.phases.storm_timeout_s * 1e9)
        while not all(self._done.get(n) for n in group.readers) or self.faults.running:
            now = self.clock()
            self.faults.trigger(self.record, now - storm_start, self._restored_percent())
            if now - storm_start > timeout_ns:
                behind = [n for n in group.readers if not self._done.get(n)]
                self.record.event(now, "storm_timeout", instances=behind)
                raise RunFailed(f"Kafka Streams instances not RUNNING with their state restored "
                                f"within phases.storm_timeout_s="
                                f"{self.spec.phases.storm_timeout_s:g}: {', '.join(behind)}")
            self._step()
        group.caught_up_ns = max(r["useful_ns"] for n in group.readers
                                 for r in self._call(n, "recovery_log")[-1:])

    def _recovery(self) -> None:
        super()._recovery()
        if self.spec.streams.compare_readers and self.spec.storm.readers:
            self._replay_with_readers()

    def _replay_with_readers(self) -> None:
        """The same changelog, now restored by replaybench's readers (read-only, foreign
        mode) under the same live input: group 1, in phase `replay`."""
        spec, parts = self.spec, self.spec.topic.partitions
        group = Group(1, [])
        for r, mine in enumerate(assign_partitions(parts, spec.storm.readers)):
            group.readers.append(f"reader-1-{r}")
            self._actor(group.readers[-1], Role.READER, build.reader(
                spec, self._config("reader"), self.changelog, 1, r, mine, foreign=True))
        self.groups.append(group)
        self._enter("replay")
        targets = end_offsets(self.client_config, self.changelog, parts)
        starts = log_start_offsets(self.client_config, self.changelog, parts)
        self._start_group(group, targets)
        while any(n in self.ticker.queues for n in group.readers):
            self._step()
        results = [self._call(n, "result") for n in group.readers]
        verdict = judge_replay(1, group.start_ns, results, targets, starts)
        self.record.groups.append({**verdict.group_row, **self._holdup(group, verdict.group_row)})
        self.record.partitions.extend(verdict.partition_rows)
        self.record.verification.extend(verdict.checks)

    def _restored_percent(self) -> float:
        """Records the lost instances restored, against their share of the changelog (Kafka
        Streams restores a compacted changelog, so this may stop short of 100)."""
        done = sum(self._per_actor.get(n, {}).get("records", 0) for n in self.groups[0].readers)
        share = len(self.groups[0].readers) / self.spec.streams.instances
        return 100 * done / (share * sum(self.targets.values()) or 1)

    def _drain(self) -> None:
        """Stop producing, then wait until the application has committed every input offset and
        the output consumer has read the output to its end."""
        self._enter("drain")
        self._stop_producers()
        deadline = self.clock() + DRAIN_TIMEOUT_NS
        while not self._processed_everything() and self.clock() < deadline:
            self._step()
        consumers = self._names(Role.CONSUMER)
        # The output's end offsets also count transaction markers and aborted output under
        # exactly-once, so the consumers are done when a whole tick brings them nothing new.
        read = -1
        while self.clock() < deadline and read != sum(self._consumed(n) for n in consumers):
            read = sum(self._consumed(n) for n in consumers)
            self._step()
        for name in consumers:
            self.ticker.retire(name)
        while any(n in self.ticker.queues for n in consumers):
            self._step()

    # -- verification -----------------------------------------------------------------------

    def _verify(self) -> None:
        self._enter("verify")
        self.faults.finish(self.record)
        group = self.groups[0]
        alive = [n for n in self._names(Role.STREAMS)
                 if self.spec.streams.loss == "wipe" or n not in self.lose]
        stores = [self._call(n, "dump_rows") for n in alive]
        recoveries = {n: self._call(n, "recovery_log") for n in group.readers}
        histories = {n: self._call(n, "event_history") for n in self._names(Role.STREAMS)}
        verdict = judge_streams(np.concatenate(stores), self.seeded.expected_versions,
                                self._changelog_deliveries(), recoveries,
                                self.spec.streams.processing_guarantee)
        partitions = restore_partitions(histories, self.lost)
        restored = sum(r["records"] for r in partitions)   # after the loss, by every instance
        self.record.groups.append({
            **verdict.group_row, "group": 0, "readers": len(group.readers),
            "started_ns": group.start_ns, "records": restored,
            "bytes": restored * CHANGELOG_RECORD_BYTES,
            "target_records": sum(r["end_offset"] - r["start_offset"] for r in partitions),
            "reader_client": "kafka-streams"})
        self.record.partitions.extend(partitions)
        self.record.groups.sort(key=lambda g: g["group"])   # the readers' replay came first
        self.record.verification.extend(verdict.checks)
        self._verify_live_acks()

    def _verify_live_acks(self) -> None:
        """Live traffic's own checks, without the tail consumer's (its output is the
        application's, counted in the store)."""
        ends = end_offsets(self.client_config, self.topics.changelog, self.spec.topic.partitions)
        acked = self._total(Role.PRODUCER, "acked")
        self.record.verification.extend([
            check("live", "acked_records_vs_offsets", sum(ends.values()) - self.seeded.records,
                  acked),
            check("live", "acked_offset_rewinds", 0,
                  self._total(Role.PRODUCER, "acked_offset_rewinds"))])

    # -- helpers ----------------------------------------------------------------------------

    def _processed_everything(self) -> bool:
        """The application's group has committed the input's end offsets on every partition."""
        parts = self.spec.topic.partitions
        ends = end_offsets(self.client_config, self.topics.changelog, parts)
        committed = committed_offsets(self.client_config, self.application_id,
                                      self.topics.changelog, parts)
        return all(committed.get(p, -1) >= end for p, end in ends.items())

    def _call(self, name: str, method: str, *args):
        return call(self.handles[name], name, method, *args)

    def _kill_all(self) -> None:
        """Keep what the instances reported (also when the run failed), close the JVMs cleanly
        (they also exit when their actor dies), then stop the actors."""
        for name in self._names(Role.STREAMS):
            if name in self.handles:
                try:
                    self._record_history(name, self._call(name, "event_history"))
                    self._call(name, "close")
                except Exception:  # noqa: BLE001 - an actor already gone: its JVM exits alone
                    pass
        super()._kill_all()

    def _record_history(self, name: str, events: list[dict]) -> None:
        """The instance's state transitions, restores, kills and errors, as run events."""
        for e in events:
            if e["e"] != "restore_batch":
                self.record.event(e["t"], f"streams_{e['e']}", actor=name,
                                  **{k: v for k, v in e.items() if k not in ("e", "t")})


def committed_offsets(client_config: dict, group: str, topic: str,
                      partitions: int) -> dict[int, int]:
    admin = health.admin(client_config["bootstrap.servers"],
                         {k: v for k, v in client_config.items() if k != "bootstrap.servers"})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p)
                                                   for p in range(partitions)])
    for attempt in range(3):
        try:
            answer = admin.list_consumer_group_offsets([request])[group].result(10)
            return {tp.partition: tp.offset for tp in answer.topic_partitions}
        except Exception:  # noqa: BLE001 - a coordinator moving: ask again
            time.sleep(0.5 * (attempt + 1))
    return {}
