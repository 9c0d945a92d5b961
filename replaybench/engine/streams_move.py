"""The Kafka Streams application a migration moves (migration.application: kafka-streams): its
instances (roles/streams_instance.py) as actors, started on one cluster, stopped there, and
started on the other with the same application id; and what is judged of it afterwards.

The application reads the run's topic (the producers' writes), aggregates it per key into its
store (each update counted, the last version kept) and writes the store's changelog and an
output topic on whichever cluster it runs on.
"""

from __future__ import annotations

import functools

import numpy as np

from replaybench.clusters.streams_app import StreamsApp
from replaybench.engine.group_offsets import OffsetReader
from replaybench.engine.run_state import RunState
from replaybench.engine.streams_engine import (
    application_properties,
    changelog_of,
    close_instances,
)
from replaybench.kafka.client_config import java_properties
from replaybench.roles.kinds import Role
from replaybench.roles.streams_instance import CHANGELOG_RECORD_BYTES, StreamsInstance
from replaybench.verdicts.streams_verification import judge_streams, restore_partitions


class StreamsApplication:
    def __init__(self, state: RunState, app: StreamsApp, application_id: str, topic: str,
                 output: str) -> None:
        """topic: its input (the producers' topic, named alike on both clusters); output: its
        output topic, made on both."""
        self.state, self.app, self.application_id = state, app, application_id
        self.topic, self.output = topic, output
        self.changelog = changelog_of(application_id)
        self.stopped: dict[str, int] = {}   #: instance -> when it stopped on the source, ns
        self.restarted: dict[str, int] = {}   #: instance -> when it started on the target, ns
        #: instance -> store partition -> the changelog offset its local state held when it
        #: started on the target (where its restore there began; the source's offsets: Kafka
        #: Streams 4 keeps them in the store itself, not in a checkpoint file)
        self.held: dict[str, dict[int, int]] = {}
        self.kept = False   #: started on the target with the state it had on the source

    def names(self) -> list[str]:
        return self.state.names(Role.STREAMS)

    def spawn(self, config: dict) -> None:
        """Its instances as actors (config: the cluster it starts on), not started yet."""
        s = self.state
        for i in range(s.spec.streams.instances):
            name = f"streams-{i}"
            s.actor(name, Role.STREAMS, functools.partial(
                StreamsInstance, self.app.java, self.app.classpath, self._properties(name, config),
                name=name, options=self.app.options, archive=self.app.archive))

    def start(self) -> None:
        s = self.state
        for name in self.names():
            s.record.event(s.clock(), "streams_started", actor=name, pid=s.call(name, "start"))
            s.tick(name)

    def stop(self) -> None:
        """Closed cleanly on the cluster it runs on (committing, its stores flushed)."""
        s = self.state
        s.retire(self.names())
        for name in self.names():   # the instance's history has the event
            self.stopped[name] = s.call(name, "stop")

    def start_on(self, config: dict, keep_state: bool, must_restore: bool) -> None:
        """Started on another cluster with the same application id."""
        s = self.state
        self.kept = keep_state
        for name in self.names():
            self.restarted[name] = s.call(name, "start_on", java_properties(config),
                                          keep_state, must_restore)
            s.record.event(self.restarted[name], "streams_started", actor=name,
                           keep_state=keep_state)
            s.tick(name)

    def useful(self) -> bool:
        """Every instance RUNNING with nothing left to restore (as its last tick said)."""
        return all(self.state.done.get(n) for n in self.names())

    def processed(self, offsets: OffsetReader) -> bool:
        """Its group has committed the end of its input on that cluster, in every partition."""
        return offsets.caught_up(self.application_id, self.topic, self.state.spec.live.partitions)

    # -- judged -----------------------------------------------------------------------------

    def judge(self, acked: np.ndarray) -> dict:
        """Its stores against every acknowledged write (acked: key, version, ...); their
        restore on the target as per-partition rows and a group row (returned), into the
        record."""
        s = self.state
        names = self.names()
        verdict = self._judged(acked)
        histories = {n: s.call(n, "event_history") for n in names}
        if self.kept:
            self.held = {n: _resumed_from(events, self.restarted[n])
                         for n, events in histories.items()}
        partitions = restore_partitions(histories, self.restarted, CHANGELOG_RECORD_BYTES)
        restored = sum(r["records"] for r in partitions)
        group = {**verdict.group_row, "group": 0, "readers": len(names),
                 "started_ns": min(self.restarted.values()), "records": restored,
                 "bytes": restored * CHANGELOG_RECORD_BYTES,
                 "target_records": sum(r["end_offset"] - r["start_offset"] for r in partitions),
                 "reader_client": "kafka-streams"}
        s.record.groups.append(group)
        s.record.partitions.extend(partitions)
        s.record.verification.extend(verdict.checks)
        return group

    def lost_and_doubled(self, acked: np.ndarray) -> tuple[int, int]:
        """Its stores now against the acknowledged writes given: (updates missing, updates
        applied twice), as judge() counts them at the end."""
        row = self._judged(acked).group_row
        return row["lost_updates"], row["double_applied_updates"]

    def _judged(self, acked: np.ndarray):
        """Its stores as they are now, judged against the acknowledged writes given."""
        s, names = self.state, self.names()
        stores = np.concatenate([s.call(n, "dump_rows") for n in names])
        return judge_streams(stores, np.zeros(s.spec.live.keys, np.int64), acked,
                             {n: s.call(n, "recovery_log") for n in names},
                             s.spec.streams.processing_guarantee)

    def close(self) -> None:
        """Their events into the record, then the JVMs closed (also when the run failed)."""
        close_instances(self.state, self.names())

    def _properties(self, name: str, config: dict) -> dict[str, str]:
        return application_properties(self.state.spec.streams, self.application_id, name,
                                      config, self.topic, self.output)

def _resumed_from(events: list[dict], since_ns: int) -> dict[int, int]:
    """Per store partition, the offset its first restore after since_ns began at, where that
    is past 0: the offset the local state held (later restores may hold the new cluster's)."""
    held: dict[int, int] = {}
    for e in events:
        if e["e"] == "restore_start" and e["t"] >= since_ns:
            held.setdefault(e["partition"], e["start"])
    return {p: offset for p, offset in held.items() if offset > 0}
