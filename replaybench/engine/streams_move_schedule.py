"""The schedule of a migration that moves a Kafka Streams application (phases.py), over the
producers writing its input (migration_traffic.py), the application (streams_move.py) and the
mirrors (mirror_flow.py):

    [producers and the application start on the source] → seed → [mirror starts] → catch-up →
    mirrored → cutover-drain (producers stop; the application processes every input record) →
    [the application stops] → cutover-checkpoints (the mirror copies the rest, and its
    changelog; its group's offsets current on the target) → [the mirror stops; the copies are
    read for judging] → (rollback: cutover-reverse, the mirror back starts at the end of the
    target's topics, quiet then, and says where it starts) → [the application starts on the
    target] → cutover-restore (until it is useful there: RUNNING, restored, every copied
    record processed) → [producers move] → trial → (rollback: the same legs back, over the
    mirror back, which copied what was written on the target under the same names → back on
    the source) → drain → verify

With migration.streams.changelog: rebuilt, neither its changelog nor its group's offsets are
mirrored: on the target it processes the whole copy of its input into an empty store; moved
back, it finds its state and offsets on the source as it left them, and processes what the
mirror back copied.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
    stop_mirror,
)
from replaybench.engine.migration_traffic import MigrationTraffic
from replaybench.engine.mirror_flow import MirrorFlow
from replaybench.engine.phases import Phase, Step
from replaybench.engine.run_parts import RunFailed
from replaybench.engine.run_state import RunState
from replaybench.engine.streams_copies import MovedCopies
from replaybench.engine.streams_move import StreamsApplication


class StreamsMoveSchedule:
    def __init__(self, state: RunState, traffic: MigrationTraffic, app: StreamsApplication,
                 source: Side, target: Side, forward: MirrorFlow,
                 reverse: MirrorFlow | None = None) -> None:
        self.state, self.traffic, self.app = state, traffic, app
        self.source, self.target, self.forward, self.reverse = source, target, forward, reverse
        self.m = state.spec.migration
        self.move = Move("cutover", 0, 1, target, forward)
        self.back = Move("rollback", 1, 2, source, reverse) if reverse else None
        self.moves = [self.move, *([self.back] if self.back else [])]
        self.on: Side = source
        self.content: list[dict] = []   #: the copies as the application found them
        self.useful: dict[str, int] = {}   #: move -> when it was useful after it, ns
        #: move -> (updates lost, applied twice) in its state once it was done with the cluster
        #: the move took it to (the last move's: judged at the end)
        self.judged: dict[str, tuple[int, int]] = {}
        #: side -> its group's committed offsets there as it left (partition -> offset)
        self.left: dict[str, dict[int, int]] = {}
        #: (topic, partition) -> where the mirror back began to read on the target
        self.reverse_from: dict[tuple[str, int], int] = {}
        self.copies = MovedCopies(app, state.spec.live.partitions, self.mirrored_changelog)
        self._stopped: dict[str, int] = {}   #: move -> when the application stopped, ns
        self._faults_t0 = 0
        state.on_tick.append(lambda _s: sample_mirrors(state, (forward, reverse)))
        state.on_tick.append(lambda _s: state.faults.trigger_after_phases(state.record,
                                                                         self._faults_t0))

    @property
    def mirrored_changelog(self) -> bool:
        return self.m.streams.changelog == "mirrored"

    @property
    def useful_ns(self) -> int:
        """Useful on the target (0: not yet)."""
        return self.useful.get(self.move.name, 0)

    def kept_state(self) -> dict[str, int]:
        return self.copies.kept_state(self.app.held)

    def downtime_ns(self, move: Move) -> int | None:
        """Stopped where it ran -> useful where the move took it (None: never useful)."""
        useful, stopped = self.useful.get(move.name), self._stopped.get(move.name)
        return useful - stopped if useful and stopped else None

    def steps(self, verify: Callable[[], None]) -> list[Step]:
        m = self.m
        steps: list[Step] = [
            lambda: (self.traffic.start(), self.app.start()),
            Phase("seed", at_most_s=m.seed_s),
            self._start_mirror,
            Phase("catch-up", start=self._faults_from_now, until=self._copied(
                self.state.spec.live.rate_per_s * self.state.spec.live.producers),
                at_most_s=m.catch_up_max_s,
                on_cap=not_caught_up(self.forward, m.catch_up_max_s)),
            Phase("mirrored", at_most_s=m.mirrored_s),
            *self._away(self.move, self.source),
            *self._reverse_start(),
            *self._arrive(self.move),
            Phase("trial", at_most_s=m.trial_s)]
        if self.back is not None:
            steps += [*self._away(self.back, self.target), *self._arrive(self.back),
                      Phase("back", at_most_s=m.back_s)]
        return steps + [
            Phase("drain", start=self.traffic.stop_producers,
                  until=lambda: self.app.processed(self.on.offsets)
                  and not self.state.faults.running, at_most_s=DRAIN_S),
            Phase("verify", start=lambda: (self.state.faults.finish(self.state.record),
                                           verify()), ticks=False)]

    # -- a move -----------------------------------------------------------------------------

    def _away(self, move: Move, leaving: Side) -> list[Step]:
        """Off the cluster it runs on: every input record processed there, stopped, the rest
        copied (and its group's offsets synced), the mirror stopped."""
        c, mirror = self.m.cutover, self.m.mirror
        return [
            Phase(f"{move.name}-drain",
                  start=lambda: (self._begin(move), self.traffic.stop_producers()),
                  until=lambda: self.app.processed(leaving.offsets),
                  at_most_s=c.wait_max_s, on_cap=self._capped(move, "input not all processed")),
            lambda: self._leave(move, leaving),
            Phase(f"{move.name}-checkpoints", until=self._ready_to_move(move, leaving),
                  at_least_s=(mirror.checkpoint_interval_s + mirror.sync_interval_s + 1.0)
                  if self.mirrored_changelog and c.wait_for_checkpoints else 0.0,
                  at_most_s=c.wait_max_s, on_cap=self._capped(move, "copy or group offsets not "
                                                                    "current")),
            lambda: self._stop_mirror(move, leaving)]

    def _arrive(self, move: Move) -> list[Step]:
        """On the cluster the move goes to: started there, useful, then the producers."""
        return [
            lambda: self._start_application(move),
            Phase(f"{move.name}-restore", until=lambda: self._useful(move),
                  at_most_s=self.m.streams.useful_max_s, on_cap=self._not_useful(move)),
            lambda: self._switch_producers(move)]

    def _begin(self, move: Move) -> None:
        move.began_ns = self.state.clock()
        self.state.record.event(move.began_ns, f"{move.name}_begins", procedure="streams",
                                mirror_lag_records=move.flow.lag())

    def _leave(self, move: Move, leaving: Side) -> None:
        """Stopped where it ran, after (a move back) its state there was judged."""
        if move is self.back:
            self.judged[self.move.name] = self.app.lost_and_doubled(
                self.traffic.acked_so_far())
        self.app.stop()
        self._stopped[move.name] = min(self.app.stopped.values())
        self.left[leaving.name] = self._committed(leaving)

    def _committed(self, side: Side) -> dict[int, int]:
        """Its group's committed offsets there (a coordinator moving: asked again)."""
        for _ in range(50):
            try:
                return side.offsets.committed(self.app.application_id, self.app.topic,
                                              self.state.spec.live.partitions)
            except NotYet:
                time.sleep(0.2)
        return {}

    def _ready_to_move(self, move: Move, leaving: Side) -> Callable[[], bool]:
        """The copy complete (after the application's last writes), and, its changelog
        mirrored, its group's offsets on the copy for every partition it committed."""
        copied = self._copied(0, move.flow)

        def until() -> bool:
            if self.m.cutover.wait_for_mirror and not copied():
                return False
            return not (self.mirrored_changelog and self.m.cutover.wait_for_checkpoints) or \
                self._synced(move, leaving)
        return until

    def _synced(self, move: Move, leaving: Side) -> bool:
        """Forward: an offset on the copy for every partition the group committed. Back: past
        where it left the source, in every partition where it processed records on the
        target (the others have nothing to translate: the mirror back copied none there)."""
        parts = self.state.spec.live.partitions
        try:
            had = leaving.offsets.committed(self.app.application_id, self.app.topic, parts)
            now = move.to.offsets.committed(self.app.application_id, self.app.topic, parts)
        except NotYet:   # a coordinator moving: the next tick
            return False
        if move is self.move:
            return all(now[p] >= 0 for p in had if had[p] > 0)
        before = self.left.get(move.to.name, {})
        return all(now[p] > before.get(p, -1) for p in had
                   if had[p] > self.reverse_from.get((self.app.topic, p), 0))

    def _stop_mirror(self, move: Move, leaving: Side) -> None:
        """The mirror stopped (a stopping MirrorMaker may still sync the group's offsets),
        then the copies read as the application will find them."""
        stop_mirror(self.state, move.flow)
        self.content += self.copies.judge(move.name, leaving, move.to,
                                          keep_changelog=move is self.move)

    def _start_application(self, move: Move) -> None:
        """Started with the same application id where the move goes. It restores there when
        that cluster holds its changelog: a mirrored one, or its own on the way back."""
        keep = self.m.streams.local_state == "keep"
        restores = self.mirrored_changelog or move is self.back
        self.app.start_on(move.to.login("streams"), keep, must_restore=restores and not keep)
        self.on = move.to

    def _useful(self, move: Move) -> bool:
        if self.app.useful() and self.app.processed(move.to.offsets):
            self.useful.setdefault(move.name, self.state.clock())
            return True
        return False

    def _switch_producers(self, move: Move) -> None:
        self.traffic.move_producers(move.to.login("producer"), move.after)
        move.ended_ns = self.state.clock()
        self.state.record.event(move.ended_ns, f"{move.name}_done",
                                switch_ns=move.ended_ns - move.began_ns)

    # -- the mirrors ------------------------------------------------------------------------

    def _start_mirror(self) -> None:
        start_mirror(self.state, self.forward)

    def _reverse_start(self) -> list[Step]:
        """With a rollback: the mirror back starts before anything is written on the target
        (the forward mirror has stopped; the application and the producers are not there
        yet), at the ends of the topics it copies, and the application waits for it to have
        its place in every partition: a record written before would never be copied back."""
        if self.reverse is None:
            return []
        # a mirror's start, as the forward one's is in its catch-up: a JVM and two Connect
        # herders (on a loaded machine the 30 s of a smoke run's waits were not enough)
        return [Phase("cutover-reverse", start=lambda: start_mirror(self.state, self.reverse),
                      until=self._reverse_placed, at_most_s=self.m.catch_up_max_s,
                      on_cap=self._not_placed)]

    def _reverse_placed(self) -> bool:
        placed = self.reverse.placed()
        if placed is None:
            return False
        self.reverse_from = placed
        self.state.record.event(self.state.clock(), "mirror_placed", mirror="reverse",
                                positions={f"{t}-{p}": o for (t, p), o in
                                           self.reverse_from.items()})
        return True

    def _not_placed(self) -> None:
        raise RunFailed(f"the reverse mirror did not find its place in every partition within "
                        f"migration.catch_up_max_s={self.m.catch_up_max_s:g} (its log: "
                        f"{self.reverse.maker.last_lines()})")

    def _faults_from_now(self) -> None:
        self._faults_t0 = self.state.clock()

    def _copied(self, behind: int, flow: MirrorFlow | None = None) -> Callable[[], bool]:
        return copied(self.state, flow or self.forward, behind)

    def _not_useful(self, move: Move) -> Callable[[], None]:
        where = "the target" if move is self.move else "the source again"

        def fail() -> None:
            raise RunFailed(f"the Kafka Streams application was not useful on {where} within "
                            f"migration.streams.useful_max_s={self.m.streams.useful_max_s:g}")
        return fail

    def _capped(self, move: Move, what: str) -> Callable[[], None]:
        return capped(self.state, move, what)
