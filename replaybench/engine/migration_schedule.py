"""The schedule of a migration run (phases.py), over the applications (migration_traffic.py)
and the mirrors (mirror_flow.py):

    [applications start on the source] → seed → [mirror starts] → catch-up → mirrored →
    cutover (the procedure's phases) → trial on the target → (rollback: the same procedure
    back, over a mirror in reverse started with the trial → back on the source) → drain →
    verify

The cutover procedures (migration_workload.Cutover):

- drain-then-switch: producers stop; the mirror drains (zero lag); the group reads the source
  to its end; consumers leave; the group's offsets become current on the target (MirrorMaker's
  checkpoint and sync intervals); the mirror stops; consumers join the target; producers move.
- consumers-first: consumers leave; their offsets become current on the target; consumers join
  the target while producers still write the source (mirrored); after consumers_ahead_s
  producers stop; the mirror drains; the mirror stops; producers move.

A knob turned off (wait_for_mirror, wait_for_checkpoints) drops its wait: the bad cutover a test
must be able to tell from a good one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from replaybench.engine.group_offsets import NotYet, OffsetReader
from replaybench.engine.migration_traffic import MigrationTraffic
from replaybench.engine.mirror_flow import MirrorFlow
from replaybench.engine.phases import Phase, Step
from replaybench.engine.run_parts import RunFailed
from replaybench.engine.run_state import RunState

DRAIN_S = 30.0


@dataclass(frozen=True)
class Side:
    """A cluster the applications can be moved to, as they see it there."""
    name: str              #: source or target
    config: dict
    read: list[str]        #: the topics the group reads there after a move
    copy_ix: int           #: which of them is the mirrored copy
    offsets: OffsetReader  #: the lag exporter's view of it
    logins: dict = field(default_factory=dict)   #: per role, its own login there (sasl_ssl)

    def login(self, role: str) -> dict:
        """The settings a role uses there: the cluster's, with the role's own login."""
        return {**self.config, **self.logins.get(role, {})}


@dataclass
class Move:
    """One step of the run (cutover or rollback) as it happened: its legs and bounds (ns)."""
    name: str
    before: int
    after: int
    to: Side
    flow: MirrorFlow
    began_ns: int = 0
    ended_ns: int = 0
    notes: list[str] = field(default_factory=list)
    #: the group's committed offsets on the copy as consumers joined (-1: none): where the
    #: mirror's offset sync put it
    resumed: dict[int, int] = field(default_factory=dict)


class MigrationSchedule:
    def __init__(self, state: RunState, traffic: MigrationTraffic, source: Side, target: Side,
                 forward: MirrorFlow, reverse: MirrorFlow | None) -> None:
        self.state, self.traffic = state, traffic
        self.source, self.target, self.forward, self.reverse = source, target, forward, reverse
        self.m = state.spec.migration
        self.moves: list[Move] = []
        self.on: Side = source          #: where the group reads now
        self._faults_t0 = 0     #: the mirror's start, ns (0: not yet)
        state.on_tick.append(lambda _s: self._sample())
        state.on_tick.append(lambda _s: state.faults.trigger_after_phases(state.record,
                                                                         self._faults_t0))

    def steps(self, verify: Callable[[], None]) -> list[Step]:
        m = self.m
        steps: list[Step] = [
            self.traffic.start,
            Phase("seed", at_most_s=m.seed_s),
            lambda: self._start(self.forward),
            # caught up: at most a second of live writes behind, and every fault timed from
            # the mirror's start over
            Phase("catch-up", start=self._faults_from_now,
                  until=self._caught_up_after_faults(), at_most_s=m.catch_up_max_s,
                  on_cap=self._not_caught_up(self.forward)),
            Phase("mirrored", at_most_s=m.mirrored_s),
            *self._move(Move("cutover", 0, 1, self.target, self.forward)),
            Phase("trial", at_most_s=m.trial_s,
                  start=(lambda: self._start(self.reverse)) if self.reverse else None),
        ]
        if self.reverse:
            steps += [*self._move(Move("rollback", 1, 2, self.source, self.reverse)),
                      Phase("back", at_most_s=m.back_s)]
        return steps + [
            Phase("drain", start=self.traffic.stop_producers,
                  until=lambda: self.traffic.group_caught_up(self.on.offsets)
                  and not self.state.faults.running, at_most_s=DRAIN_S),
            Phase("verify", start=lambda: (self.state.faults.finish(self.state.record),
                                           verify()), ticks=False)]

    # -- a move -----------------------------------------------------------------------------

    def _move(self, move: Move) -> list[Step]:
        self.moves.append(move)
        if self.m.cutover.procedure == "consumers-first":
            return self._consumers_first(move)
        return self._drain_then_switch(move)

    def _drain_then_switch(self, move: Move) -> list[Step]:
        c = self.m.cutover
        return [
            Phase(f"{move.name}-drain",
                  start=lambda: (self._begin(move), self.traffic.stop_producers()),
                  until=self._copied(move.flow) if c.wait_for_mirror else None,
                  at_most_s=c.wait_max_s if c.wait_for_mirror else 0.0,
                  on_cap=self._capped(move, "mirror lag not 0")),
            Phase(f"{move.name}-read-up", until=lambda: self.traffic.group_caught_up(
                self.on.offsets), at_most_s=c.wait_max_s,
                  on_cap=self._capped(move, "group lag not 0")),
            self.traffic.consumers_leave,
            self._checkpoints(move),
            lambda: self._switch_consumers(move),
            lambda: self._switch_producers(move)]

    def _consumers_first(self, move: Move) -> list[Step]:
        c = self.m.cutover
        return [
            lambda: (self._begin(move), self.traffic.consumers_leave()),
            self._checkpoints(move),
            lambda: self._join(move),
            Phase(f"{move.name}-consumers-ahead", at_most_s=c.consumers_ahead_s),
            Phase(f"{move.name}-drain", start=self.traffic.stop_producers,
                  until=self._copied(move.flow) if c.wait_for_mirror else None,
                  at_most_s=c.wait_max_s if c.wait_for_mirror else 0.0,
                  on_cap=self._capped(move, "mirror lag not 0")),
            lambda: (stop_mirror(self.state, move.flow), self._switch_producers(move))]

    def _checkpoints(self, move: Move) -> Phase:
        """Until the group's offsets on the copy are current: one checkpoint and one sync
        after the consumers left, and present for every partition the group had committed."""
        c, mirror = self.m.cutover, self.m.mirror
        return Phase(f"{move.name}-checkpoints", until=lambda: self._synced(move),
                     at_least_s=mirror.checkpoint_interval_s + mirror.sync_interval_s + 1.0,
                     at_most_s=c.wait_max_s, on_cap=self._capped(move, "group offsets not synced"),
                     when=lambda: c.wait_for_checkpoints)

    def _synced(self, move: Move) -> bool:
        try:
            return self._offsets_on_copy(move)
        except NotYet:
            return False

    def _offsets_on_copy(self, move: Move) -> bool:
        """The run's group, and on the forward move the team's own groups on their own
        topics: every partition committed where they read has an offset on the copy."""
        asked = [(self.traffic.group, self.traffic.topic, move.to.read[move.to.copy_ix],
                  self.state.spec.live.partitions)]
        if move.flow is self.forward:
            asked += [(group, topic, copy, parts) for topic, copy, parts in move.flow.topics
                      if topic in self.m.existing_topics for group in self.m.existing_groups]
        for group, topic, copy, parts in asked:
            had = self.on.offsets.committed(group, topic, parts)
            now = move.to.offsets.committed(group, copy, parts)
            if not all(now[p] >= 0 for p in had if had[p] > 0):
                return False
        return True

    def _switch_consumers(self, move: Move) -> None:
        # nothing more to copy, and nothing written yet where it copies to
        stop_mirror(self.state, move.flow)
        self._join(move)

    def _join(self, move: Move) -> None:
        try:
            move.resumed = move.to.offsets.committed(
                self.traffic.group, move.to.read[move.to.copy_ix], self.state.spec.live.partitions)
        except NotYet:
            move.resumed = {}   # not known: the first offset it reads there will say
        self.traffic.consumers_join(move.to.login("consumer"), move.to.read, move.after)
        self.on = move.to

    def _switch_producers(self, move: Move) -> None:
        self.traffic.move_producers(move.to.login("producer"), move.after)
        move.ended_ns = self.state.clock()
        self.state.record.event(move.ended_ns, f"{move.name}_done",
                                switch_ns=move.ended_ns - move.began_ns)

    def _begin(self, move: Move) -> None:
        move.began_ns = self.state.clock()
        self.state.record.event(move.began_ns, f"{move.name}_begins",
                                procedure=self.m.cutover.procedure,
                                mirror_lag_records=move.flow.lag(),
                                mirror_figures=move.flow.latest.figures if move.flow.latest else {})

    # -- mirrors ----------------------------------------------------------------------------

    def _start(self, flow: MirrorFlow) -> None:
        start_mirror(self.state, flow)

    def _copied(self, flow: MirrorFlow, behind: int = 0) -> Callable[[], bool]:
        return copied(self.state, flow, behind)

    def _faults_from_now(self) -> None:
        self._faults_t0 = self.state.clock()

    def _caught_up_after_faults(self) -> Callable[[], bool]:
        copied = self._copied(self.forward, self._per_second())
        faults = self.state.faults

        def until() -> bool:
            mine = [f for f in faults.faults if not f.spec.after_phase]
            return copied() and all(f.done_ns for f in mine)
        return until

    def _per_second(self) -> int:
        live = self.state.spec.live
        return max(live.rate_per_s * live.producers, 1)

    def _sample(self) -> None:
        sample_mirrors(self.state, (self.forward, self.reverse))

    def _not_caught_up(self, flow: MirrorFlow) -> Callable[[], None]:
        return not_caught_up(flow, self.m.catch_up_max_s)

    def _capped(self, move: Move, what: str) -> Callable[[], None]:
        return capped(self.state, move, what)


# -- what both migration schedules (this one and streams_move_schedule.py) do with a mirror --

def start_mirror(state: RunState, flow: MirrorFlow) -> None:
    flow.start()
    state.record.event(state.clock(), "mirror_started", mirror=flow.name,
                       starts=flow.maker.starts)


def stop_mirror(state: RunState, flow: MirrorFlow) -> None:
    """Stopped by the schedule; `server`: its name in the platform's metrics, which end here
    by design (observability judges a fault on it up to this point)."""
    state.record.event(state.clock(), "mirror_stopped", mirror=flow.name,
                       server=flow.maker.name)
    flow.stop()


def copied(state: RunState, flow: MirrorFlow, behind: int = 0) -> Callable[[], bool]:
    """A phase's `until`: the copy complete (or at most `behind` records short) in a sample
    taken after the phase began."""
    since: list[int] = []

    def until() -> bool:
        since or since.append(state.clock())
        return flow.caught_up_after(since[0], behind)
    return until


def sample_mirrors(state: RunState, flows) -> None:
    """The mirrors' samples since the last tick into the time series; a mirror that died
    ends the run."""
    record = state.record
    for flow in flows:
        if flow is None or flow.maker.process is None:
            continue
        for sample in flow.take_samples():
            record.timeseries.append({
                "tick": state.ticker.count if state.ticker else 0,
                "t_ns": sample.t_ns, "elapsed_ns": sample.t_ns - record.started_ns,
                "interval_ns": 0, "phase": record.phase, "role": "mirror", "actors": 1,
                "records": 0, "bytes": 0, "lag_records": sample.lag_records,
                "mirror": flow.name, **sample.figures})
        if not flow.running() and not flow.stopped:
            flow.maker.raise_if_died()


def not_caught_up(flow: MirrorFlow, seconds: float) -> Callable[[], None]:
    def fail() -> None:
        raise RunFailed(f"the {flow.name} mirror did not catch up within {seconds:g} s "
                        f"({flow.lag()} records behind; its log: {flow.maker.last_lines()})")
    return fail


def capped(state: RunState, move: Move, what: str) -> Callable[[], None]:
    """A wait's on_cap: the step goes on without it, noted in its row and the events."""
    def note() -> None:
        move.notes.append(what)
        state.record.event(state.clock(), "wait_capped", step=move.name, what=what,
                           seconds=state.spec.migration.cutover.wait_max_s)
    return note
