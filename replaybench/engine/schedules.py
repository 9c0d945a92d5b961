"""The schedules runs follow, written as data (phases.Phase) over a run's live traffic and its
restore engine. A new kind of run (a migration across two clusters) is a new schedule with its
own roles; the phases below do not change for it.

restore-storm (every shipped workload today):

    seed → [live traffic starts] → warmup → baseline → storm → recovery → (engine's own,
    e.g. replay) → drain → verify

- seed: the seeder writes the changelog; ends when it has (and the cluster has settled it);
- warmup: live traffic until its latency is steady, at least warmup_s, at most warmup_max_s
  (a fresh broker's JIT compiles the live path for ~20 s: a baseline taken then would
  flatter every storm);
- baseline: live traffic alone for baseline_s, the reference the storm is judged against;
- storm: the engine restores while live traffic goes on, faults fire on their triggers; ends
  when the restore has caught up and every fault is done, fails at storm_timeout_s;
- recovery: live traffic alone until its p99 settles back near the baseline's, at most
  recovery_s (the second reference);
- drain: producers stop; ends when everything written has been read (at most 30 s);
- verify: the engine judges the restored state, and live traffic its own delivery.

The live latency of each phase is kept under the phase's name; the interference verdicts
compare storm with baseline and with recovery (verdicts/interference.py).
"""

from __future__ import annotations

from collections.abc import Callable

from replaybench.engine.fault_schedule import FaultSchedule
from replaybench.engine.live_traffic import LiveTraffic
from replaybench.engine.phases import Phase, Step
from replaybench.engine.restore_engine import RestoreEngine
from replaybench.engine.run_parts import RunFailed
from replaybench.engine.run_state import RunState

DRAIN_S = 30.0


def restore_storm(state: RunState, live: LiveTraffic, engine: RestoreEngine,
                  faults: FaultSchedule,
                  after_seed: Callable[[], dict | None] | None) -> list[Step]:
    spec, phases = state.spec, state.spec.phases
    ticking = state_has_live_actors(state)
    return [
        _replay_noted(state) if spec.topic.existing else
        Phase("seed", start=live.start_seed, until=live.seed_written,
              end=lambda: (live.end_seed(after_seed), engine.after_seed())),
        lambda: (live.start(engine.tail_offsets()), engine.join_live()),
        _warmup(state, live, ticking),
        Phase("baseline", at_most_s=phases.baseline_s,
              when=lambda: phases.baseline_s > 0 and ticking()),
        _storm(state, engine, faults),
        Phase("recovery", until=live.settled if live.producing() else None,
              at_most_s=phases.recovery_s, when=lambda: phases.recovery_s > 0 and ticking()),
        *engine.after_recovery(),
        # until everything written is read, and a fault's damage to replication is repaired
        # (at most DRAIN_S: a run does not wait on a cluster that does not heal)
        Phase("drain", start=live.stop_producers,
              until=lambda: engine.drained() and faults.replicated, at_most_s=DRAIN_S,
              end=engine.end_drain),
        Phase("verify", start=lambda: (faults.finish(state.record), engine.verify()),
              ticks=False),
    ]


def state_has_live_actors(state: RunState) -> Callable[[], bool]:
    """Whether anything ticks between phases (a run without live traffic skips timed ones)."""
    return lambda: bool(state.ticker and state.ticker.active())


def _replay_noted(state: RunState) -> Callable[[], None]:
    """A replayed topic is read, never written: no seed phase, an event instead."""
    return lambda: state.record.event(state.clock(), "replay", topic=state.topics.changelog)


def _warmup(state: RunState, live: LiveTraffic, ticking: Callable[[], bool]) -> Phase:
    phases = state.spec.phases
    if not live.producing():
        return Phase("warmup", at_most_s=phases.warmup_s,
                     when=lambda: phases.warmup_s > 0 and ticking())
    return Phase("warmup", until=live.steady, at_least_s=phases.warmup_s,
                 at_most_s=phases.warmup_max_s,
                 on_cap=lambda: state.record.event(state.clock(), "warmup_capped",
                                                   seconds=phases.warmup_max_s))


def _storm(state: RunState, engine: RestoreEngine, faults: FaultSchedule) -> Phase:
    started: list[int] = []

    def start() -> None:
        engine.start()
        started.append(state.clock())

    def every_tick() -> None:
        faults.trigger(state.record, state.clock() - started[0], engine.restored_percent())
        engine.every_tick()

    def timed_out() -> None:
        raise RunFailed(engine.behind())

    return Phase("storm", start=start, every_tick=every_tick,
                 until=lambda: engine.caught_up() and not faults.running,
                 at_most_s=state.spec.phases.storm_timeout_s, on_cap=timed_out,
                 end=engine.end_storm, when=lambda: engine.restores)
