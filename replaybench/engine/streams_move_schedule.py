"""The schedule of a migration that moves a Kafka Streams application (phases.py), over the
producers writing its input (migration_traffic.py), the application (streams_move.py) and the
mirror (mirror_flow.py):

    [producers and the application start on the source] → seed → [mirror starts] → catch-up →
    mirrored → cutover-drain (producers stop; the application processes every input record) →
    [the application stops] → cutover-checkpoints (the mirror copies the rest, and its
    changelog; its group's offsets current on the target) → [the copies are read for judging;
    the mirror stops; the application starts on the target] → cutover-restore (until it is
    useful there: RUNNING, restored, every copied record processed) → [producers move] →
    trial → drain → verify

With migration.streams.changelog: rebuilt, neither its changelog nor its group's offsets are
mirrored: on the target it processes the whole copy of its input into an empty store.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from replaybench.engine import topic_scan
from replaybench.engine.group_offsets import NotYet
from replaybench.engine.migration_schedule import (
    DRAIN_S,
    Move,
    Side,
    capped,
    copied,
    not_caught_up,
    sample_mirrors,
    start_mirror,
)
from replaybench.engine.migration_traffic import MigrationTraffic
from replaybench.engine.mirror_flow import MirrorFlow
from replaybench.engine.phases import Phase, Step
from replaybench.engine.run_parts import RunFailed
from replaybench.engine.run_state import RunState
from replaybench.engine.streams_move import StreamsApplication
from replaybench.verdicts import mirror_content


class StreamsMoveSchedule:
    def __init__(self, state: RunState, traffic: MigrationTraffic, app: StreamsApplication,
                 source: Side, target: Side, forward: MirrorFlow) -> None:
        self.state, self.traffic, self.app = state, traffic, app
        self.source, self.target, self.forward = source, target, forward
        self.m = state.spec.migration
        self.move = Move("cutover", 0, 1, target, forward)
        self.moves = [self.move]
        self.on: Side = source
        self.content: list[dict] = []   #: the copies as the application found them
        self.useful_ns = 0              #: useful on the target (0: not yet)
        #: the changelog and its copy as read before the move (partition -> offsets, hashes)
        self._changelog: tuple[dict, dict] | None = None
        self._faults_t0 = 0
        state.on_tick.append(lambda _s: sample_mirrors(state, (forward,)))
        state.on_tick.append(lambda _s: state.faults.trigger_after_phases(state.record,
                                                                         self._faults_t0))

    @property
    def mirrored_changelog(self) -> bool:
        return self.m.streams.changelog == "mirrored"

    def steps(self, verify: Callable[[], None]) -> list[Step]:
        m, c = self.m, self.m.cutover
        return [
            lambda: (self.traffic.start(), self.app.start()),
            Phase("seed", at_most_s=m.seed_s),
            self._start_mirror,
            Phase("catch-up", start=self._faults_from_now, until=self._copied(
                self.state.spec.live.rate_per_s * self.state.spec.live.producers),
                at_most_s=m.catch_up_max_s,
                on_cap=not_caught_up(self.forward, m.catch_up_max_s)),
            Phase("mirrored", at_most_s=m.mirrored_s),
            Phase("cutover-drain", start=lambda: (self._begin(), self.traffic.stop_producers()),
                  until=lambda: self.app.processed(self.source.offsets),
                  at_most_s=c.wait_max_s, on_cap=self._capped("input not all processed")),
            self.app.stop,
            Phase("cutover-checkpoints", until=self._ready_to_move(),
                  at_least_s=(m.mirror.checkpoint_interval_s + m.mirror.sync_interval_s + 1.0)
                  if self.mirrored_changelog and c.wait_for_checkpoints else 0.0,
                  at_most_s=c.wait_max_s, on_cap=self._capped("copy or group offsets not "
                                                             "current")),
            self._switch_application,
            Phase("cutover-restore", until=self._useful,
                  at_most_s=m.streams.useful_max_s, on_cap=self._not_useful),
            self._switch_producers,
            Phase("trial", at_most_s=m.trial_s),
            Phase("drain", start=self.traffic.stop_producers,
                  until=lambda: self.app.processed(self.on.offsets)
                  and not self.state.faults.running, at_most_s=DRAIN_S),
            Phase("verify", start=lambda: (self.state.faults.finish(self.state.record),
                                           verify()), ticks=False)]

    # -- the move ---------------------------------------------------------------------------

    def _begin(self) -> None:
        self.move.began_ns = self.state.clock()
        self.state.record.event(self.move.began_ns, "cutover_begins", procedure="streams",
                                mirror_lag_records=self.forward.lag())

    def _ready_to_move(self) -> Callable[[], bool]:
        """The copy complete (after the application's last writes), and, its changelog
        mirrored, its group's offsets on the copy for every partition it committed."""
        copied = self._copied(0)

        def until() -> bool:
            if self.m.cutover.wait_for_mirror and not copied():
                return False
            return not (self.mirrored_changelog and self.m.cutover.wait_for_checkpoints) or \
                self._synced()
        return until

    def _synced(self) -> bool:
        parts = self.state.spec.live.partitions
        try:
            had = self.source.offsets.committed(self.app.application_id, self.app.topic, parts)
            now = self.target.offsets.committed(self.app.application_id, self.app.topic, parts)
        except NotYet:   # a coordinator moving: the next tick
            return False
        return all(now[p] >= 0 for p in had if had[p] > 0)

    def _switch_application(self) -> None:
        """The mirror stopped (a stopping MirrorMaker may still sync the group's offsets),
        the copies read as the application will find them, the application started on the
        target."""
        self.forward.stop()
        self.content = self._judge_copies()
        keep = self.m.streams.local_state == "keep"
        self.app.start_on(self.target.login("streams"), keep,
                          must_restore=self.mirrored_changelog and not keep)
        self.on = self.target

    def _useful(self) -> bool:
        if self.app.useful() and self.app.processed(self.target.offsets):
            self.useful_ns = self.useful_ns or self.state.clock()
            return True
        return False

    def _switch_producers(self) -> None:
        self.traffic.move_producers(self.target.login("producer"), 1)
        self.move.ended_ns = self.state.clock()
        self.state.record.event(self.move.ended_ns, "cutover_done",
                                switch_ns=self.move.ended_ns - self.move.began_ns)

    def _judge_copies(self) -> list[dict]:
        """Its input and (mirrored) its changelog: each copy against its original, by content;
        its group's synced offsets against the records its committed offsets point to."""
        parts, app = self.state.spec.live.partitions, self.app
        topics = [app.topic] + ([app.changelog] if self.mirrored_changelog else [])
        rows: list[dict] = []
        for topic in topics:
            original = topic_scan.scan_hashes(self.source.config, topic, parts)
            aborted = topic_scan.aborted_hashes(self.source.config, topic, parts, original)
            copy = topic_scan.scan_hashes(self.target.config, topic, parts)
            rows += mirror_content.judge_topic(topic, original, copy, aborted)
            if topic == app.changelog:
                self._changelog = (original, copy)
            if topic == app.topic and self.mirrored_changelog:   # rebuilt: nothing synced
                rows += mirror_content.judge_group(
                    app.application_id, topic,
                    self.source.offsets.committed(app.application_id, topic, parts),
                    self.target.offsets.committed(app.application_id, topic, parts),
                    original, copy)
        return rows

    def kept_state(self) -> dict[str, int]:
        """The local state the instances kept (migration.streams.local_state: keep), as Kafka
        Streams resumed it on the target: in how many partitions, in how many the offset it
        held does not mark the same place in the copy (the records below it there are not the
        source's records below it: transaction markers are not copied, or the mirror started
        after compaction), and in how many it points past the copy's end."""
        held = [(p, offset) for offsets in self.app.held.values()
                for p, offset in offsets.items()]
        out = {"partitions": len(held), "not_matching_copy": 0, "beyond_copy_end": 0}
        if self._changelog is None:
            return out
        original, copy = self._changelog
        for p, offset in held:
            copy_offsets = copy.get(p, ([], []))[0]
            out["not_matching_copy"] += _before(original.get(p, ([], [])), offset) != \
                _before(copy.get(p, ([], [])), offset)
            out["beyond_copy_end"] += offset > (copy_offsets[-1] + 1 if copy_offsets else 0)
        return out

    # -- the mirror -------------------------------------------------------------------------

    def _start_mirror(self) -> None:
        start_mirror(self.state, self.forward)

    def _faults_from_now(self) -> None:
        self._faults_t0 = self.state.clock()

    def _copied(self, behind: int) -> Callable[[], bool]:
        return copied(self.state, self.forward, behind)

    def _not_useful(self) -> None:
        raise RunFailed(f"the Kafka Streams application was not useful on the target within "
                        f"migration.streams.useful_max_s={self.m.streams.useful_max_s:g}")

    def _capped(self, what: str) -> Callable[[], None]:
        return capped(self.state, self.move, what)


def _before(partition: tuple[list[int], list[bytes]], offset: int) -> list[bytes]:
    """The hashes of a partition's records below an offset."""
    offsets, hashes = partition
    return hashes[:bisect_left(offsets, offset)]
