"""The `migration` section of a workload: two clusters, the mirror between them, the cutover
procedure and its knobs, and whether to roll back (engine/migration_schedule.py runs it).

The live section says what the applications do (producers' rate, consumers, the topic's
partitions and keys); this section says how they are moved.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from replaybench.clusters.mirror_config import MirrorSettings
from replaybench.validation import NonEmptyText, Strict, between

PROCEDURES = ("drain-then-switch", "consumers-first")
#: the phases of a Kafka Streams application's move (engine/streams_move_schedule.py)
STREAMS_LEGS = ("drain", "checkpoints", "restore")


class Mirror(Strict):
    """MirrorMaker 2's settings that decide a cutover's outcome; none left to its defaults."""
    checkpoint_interval_s: between(float, 1.0, 3_600.0) = 5.0   #: MM2 default 60
    checkpoints: bool = True            #: emit.checkpoints.enabled
    sync_group_offsets: bool = True     #: MM2 default false
    sync_interval_s: between(float, 1.0, 3_600.0) = 5.0         #: MM2 default 60
    refresh_s: between(float, 1.0, 3_600.0) = 5.0   #: new topics and groups found; MM2 default 600
    offset_lag_max: between(int, 0, 1_000_000) = 100            #: MM2 default 100
    policy: Literal["identity", "prefixed"] = "identity"  #: topic names on the target
    tasks: between(int, 1, 64) = 1
    #: a mirror restarted after a crash waits this long for its old tasks' owner before it
    #: runs them (Connect's scheduled.rebalance.max.delay.ms; MM2 default 300)
    rebalance_delay_s: between(float, 0.0, 3_600.0) = 300.0
    #: copy only committed records (the source consumer's isolation.level); MirrorMaker's
    #: default, false, copies aborted transactions as committed records
    read_committed: bool = False

    def settings(self, start_at: str = "earliest") -> MirrorSettings:
        return MirrorSettings(self.checkpoint_interval_s, self.checkpoints,
                              self.sync_group_offsets, self.sync_interval_s, self.refresh_s,
                              self.offset_lag_max, self.policy, self.tasks, start_at,
                              self.rebalance_delay_s, self.read_committed)


class Cutover(Strict):
    """drain-then-switch: producers stop, the mirror drains, consumers move, producers move.
    consumers-first: consumers move while producers still write the source (mirrored), then
    producers move."""
    procedure: Literal["drain-then-switch", "consumers-first"] = "drain-then-switch"
    wait_for_mirror: bool = True        #: zero mirror lag before the mirror is stopped
    wait_for_checkpoints: bool = True   #: the group's offsets current on the target first
    wait_max_s: between(float, 0.0, 3_600.0) = 60.0   #: at most, for each wait
    consumers_ahead_s: between(float, 0.0, 3_600.0) = 5.0   #: consumers-first: then producers
    #: where a consumer starts on the target in a partition its group has no offset for
    reset: Literal["earliest", "latest"] = "latest"
    #: records a correct cutover may deliver twice; -1: mirror.offset_lag_max per partition
    #: (MirrorMaker translates a group's offset to the last offset sync at or before it)
    max_duplicates: between(int, -1) = -1


class StreamsMove(Strict):
    """How the Kafka Streams application (the workload's `streams` section) is moved, with
    migration.application: kafka-streams. It is stopped on the source once it has processed
    every input record, and started on the target with the same application id."""
    #: mirrored: its store's changelog is mirrored and its group's offsets synced: it restores
    #: its state from the copy and goes on from the translated offsets; rebuilt: only its
    #: input is mirrored: it rebuilds its state by processing the whole copy
    changelog: Literal["mirrored", "rebuilt"] = "mirrored"
    #: wipe: it starts on the target with an empty state directory (a new machine); keep: with
    #: the one it had (the same machine repointed), whose checkpoints hold the source's offsets
    local_state: Literal["wipe", "keep"] = "wipe"
    #: at most, for it to be useful on the target (RUNNING, restored, every copied input
    #: record processed)
    useful_max_s: between(float, 1.0, 86_400.0) = 300.0


class Migration(Strict):
    """source and target: an embedded platform's name (clusters/registry.py) or a cluster
    profile's path (.yaml)."""
    source: NonEmptyText = "kafka"
    target: NonEmptyText = "kafka"
    #: an embedded side's security mode, over --security for that side (a profile brings its
    #: own, in its client config)
    source_security: Literal["tls", "sasl_ssl"] | None = None
    target_security: Literal["tls", "sasl_ssl"] | None = None
    #: what is moved: the run's consumer group (live.consumers), or the Kafka Streams
    #: application (the `streams` section; its input written by live.producers)
    application: Literal["consumer-group", "kafka-streams"] = "consumer-group"
    streams: StreamsMove = StreamsMove()
    mirror: Mirror = Mirror()
    cutover: Cutover = Cutover()
    #: then move back to the source, with a mirror in reverse (a Kafka Streams application:
    #: the mirror back copies, under the same names, what is written on the target after the
    #: move, and with its changelog mirrored its group's offsets)
    rollback: bool = False
    #: the team's own topics and consumer groups on the source, mirrored beside the run's and
    #: judged from their content (read-only, as --replay is): every record in the copy in
    #: order, and each group's synced position against the record its offset points to
    existing_topics: Annotated[tuple[NonEmptyText, ...], Field(strict=False)] = ()
    existing_groups: Annotated[tuple[NonEmptyText, ...], Field(strict=False)] = ()
    seed_s: between(float, 0.0, 86_400.0) = 10.0        #: written before the mirror starts
    mirrored_s: between(float, 0.0, 86_400.0) = 10.0    #: live on the source, mirrored
    trial_s: between(float, 0.0, 86_400.0) = 10.0       #: live on the target
    back_s: between(float, 0.0, 86_400.0) = 5.0         #: after rollback, on the source again
    catch_up_max_s: between(float, 1.0, 86_400.0) = 180.0   #: the mirror's catch-up, at most

    def phase_names(self) -> list[str]:
        """The run's phases in order, as migration_schedule.py enters them (a fault's
        after_phase names one)."""
        if self.application == "kafka-streams":
            # with a rollback, the mirror back starts (and finds its place) before the
            # application starts on the target
            legs = [*STREAMS_LEGS[:2], *(("reverse",) if self.rollback else ()),
                    STREAMS_LEGS[2]]
            names = ["seed", "catch-up", "mirrored", *(f"cutover-{leg}" for leg in legs),
                     "trial"]
            if self.rollback:
                names += [*(f"rollback-{leg}" for leg in STREAMS_LEGS), "back"]
            return [*names, "drain"]
        legs = ["drain", "read-up", "checkpoints"] if self.cutover.procedure == \
            "drain-then-switch" else ["checkpoints", "consumers-ahead", "drain"]
        names = ["seed", "catch-up", "mirrored", *(f"cutover-{leg}" for leg in legs), "trial"]
        if self.rollback:
            names += [*(f"rollback-{leg}" for leg in legs), "back"]
        return [*names, "drain"]

    @model_validator(mode="after")
    def _known_procedure(self) -> Migration:
        if self.application == "kafka-streams":
            _check_streams_move(self)
        if self.cutover.procedure == "consumers-first" and not self.cutover.wait_for_mirror \
                and self.rollback:
            raise ValueError("migration.rollback needs every record on the target before the "
                             "mirror stops (cutover.wait_for_mirror: true)")
        return self


def _check_streams_move(m: Migration) -> None:
    """What moving the Kafka Streams application supports today: one line for the rest."""
    if m.cutover.procedure != "drain-then-switch":
        raise ValueError("migration.cutover.procedure: the Kafka Streams application moves "
                         "drain-then-switch (it reads one cluster at a time)")
    if m.mirror.policy != "identity":
        raise ValueError("migration.mirror.policy: the Kafka Streams application needs "
                         "identity (it finds its changelog and input by their names)")
    if m.existing_topics or m.existing_groups:
        raise ValueError("migration.application: kafka-streams: a team's own topics are not "
                         "part of a Kafka Streams move yet")


def check_with_the_rest(spec) -> None:
    """What a migration needs of the rest of its workload (spec: the WorkloadSpec): the
    applications to move, on the live topic, and faults timed from phases it has (their
    targets, `source-broker-1`, `target-broker-1`, `mirror`, are checked against the opened
    clusters)."""
    streams = spec.migration.application == "kafka-streams"
    if streams and (spec.live.consumers or not spec.live.producers):
        raise ValueError("migration.application: kafka-streams: the application is the "
                         "consumer (live.consumers: 0), its input written by live.producers")
    if not streams and not (spec.live.producers and spec.live.consumers):
        raise ValueError("migration: needs live.producers and live.consumers (the "
                         "applications it moves), at least one each")
    if spec.live.topic != "live":
        raise ValueError("migration: moves the live topic (live.topic: live)")
    if spec.storm.engine == "kafka-streams" or spec.topic.existing:
        raise ValueError("migration: storm.engine and replayed topics are not part of a "
                         "migration run (the Kafka Streams application moves with "
                         "migration.application: kafka-streams)")
    phases = spec.migration.phase_names()
    for i, fault in enumerate(spec.faults):
        if fault.at_s < 0:
            raise ValueError(f"faults[{i}]: a migration's faults are timed by at_s (from the "
                             "mirror's start, or from after_phase's)")
        if fault.after_phase and fault.after_phase not in phases:
            raise ValueError(f"faults[{i}].after_phase: {fault.after_phase!r} is not a phase "
                             f"of this migration ({', '.join(phases)})")
        if not fault.targets:
            raise ValueError(f"faults[{i}]: a migration's faults name their targets "
                             "(source-broker-1, target-broker-1, mirror)")
