"""A run is a schedule: a list of phases, each data saying what begins with it, what ends it
and what is done each tick, with plain actions between them (starting live traffic is not a
phase of its own). `run_schedule` runs any schedule; schedules.py writes them.

A phase ends when its `until` holds (checked after each tick, but not before `at_least_s`),
or at `at_most_s`, where `on_cap` may fail the run (a restore that never caught up) or only
note it (a warmup that never steadied). A phase without `until` lasts `at_most_s`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from replaybench.engine.run_state import RunState


@dataclass(frozen=True)
class Phase:
    name: str                                       #: recorded as the run's phase
    start: Callable[[], None] | None = None         #: what begins as it is entered
    until: Callable[[], bool] | None = None         #: it may end once this holds
    every_tick: Callable[[], None] | None = None    #: work due before each tick
    at_least_s: float = 0.0                         #: ...but not sooner
    at_most_s: float | None = None                  #: and no later (None: no cap)
    on_cap: Callable[[], None] | None = None        #: at the cap (raise to fail the run)
    end: Callable[[], None] | None = None           #: what it does as it ends
    ticks: bool = True                              #: False: start and end only (verify)
    when: Callable[[], bool] | None = None          #: asked on entry: False skips the phase


def run_phase(state: RunState, phase: Phase) -> None:
    if phase.when and not phase.when():
        return
    state.enter(phase.name)
    if phase.start:
        phase.start()
    if phase.ticks:
        _tick_until(state, phase)
    if phase.end:
        phase.end()


def _tick_until(state: RunState, phase: Phase) -> None:
    begin = state.clock()
    least = int(phase.at_least_s * 1e9)
    most = int(phase.at_most_s * 1e9) if phase.at_most_s is not None else None
    while True:
        if phase.every_tick:
            phase.every_tick()
        if most is not None and state.clock() - begin >= most:
            if phase.on_cap:
                phase.on_cap()
            return
        state.step()
        if phase.until and state.clock() - begin >= least and phase.until():
            return


Step = Phase | Callable[[], None]   #: a phase, or an action run between phases


def run_schedule(state: RunState, schedule: list[Step]) -> None:
    for step in schedule:
        if isinstance(step, Phase):
            run_phase(state, step)
        else:
            step()
