"""One run: its actors up front, then a schedule of phases (schedules.py), whatever ends it
the actors stopped and nothing left paused.

The coordinator holds no phase logic and no engine logic: live traffic (live_traffic.py), the
restore engine (a RestoreEngine: reader_engine.py, streams_engine.py) and the faults
(fault_schedule.py) are parts it composes; the schedule says when each acts. Which node each
actor runs on, the placer (node_placement.py) decides; which platform the cluster is, the
coordinator never knows.
"""

from __future__ import annotations

from collections.abc import Callable

from replaybench.clusters.platform import ProcessControl
from replaybench.engine import schedules
from replaybench.engine.fault_schedule import FaultSchedule
from replaybench.engine.live_traffic import LiveTraffic
from replaybench.engine.node_placement import Placer
from replaybench.engine.phases import run_schedule
from replaybench.engine.reader_engine import ReaderEngine
from replaybench.engine.restore_engine import RestoreEngine
from replaybench.engine.run_parts import Topics
from replaybench.engine.run_state import Progress, RunState
from replaybench.engine.workload import WorkloadSpec
from replaybench.meters.clock import Clock
from replaybench.results.run_record import RunRecord

EngineFactory = Callable[[RunState, LiveTraffic], RestoreEngine]


class Coordinator:
    def __init__(self, spec: WorkloadSpec, client_config: dict, topics: Topics,
                 record: RunRecord, on_tick: Callable[[Progress], None] | None = None,
                 after_seed: Callable[[], dict | None] | None = None,
                 processes: ProcessControl | None = None,
                 server_pids: Callable[[], dict[str, int]] | None = None,
                 role_configs: dict[str, dict] | None = None,
                 placer: Placer | None = None, engine: EngineFactory = ReaderEngine) -> None:
        """after_seed: run once the changelog is written (the embedded cluster flushes it to
        disk, so that its writeback does not land in the baseline). processes: the cluster's
        processes the workload's faults act on (set up here: one it cannot take is refused
        before any actor starts). server_pids: the cluster's server processes on this host,
        by name, whose CPU each tick records. role_configs: per role (seeder, producer,
        consumer, reader, streams), settings over client_config: on a secured cluster, that
        role's own login. placer: the Ray node of each actor (None: Ray's default scheduling).
        engine: what restores (default: replaybench's readers)."""
        clock = Clock()
        faults = FaultSchedule(list(spec.faults), processes, clock, client_config,
                               [topics.changelog, topics.live])
        self.state = RunState(spec, client_config, topics, record, faults, clock, server_pids,
                              role_configs, placer)
        self.live = LiveTraffic(self.state)
        self.engine = engine(self.state, self.live)
        self.live.use_consumer(self.engine.consumer())
        self.after_seed = after_seed
        self.on_tick = on_tick or (lambda _p: None)

    @property
    def record(self) -> RunRecord:
        return self.state.record

    def run(self) -> None:
        state = self.state
        try:
            self.live.spawn()
            self.engine.spawn()
            state.placed()
            state.on_tick.append(lambda s: self.on_tick(s.progress()))
            run_schedule(state, schedules.restore_storm(state, self.live, self.engine,
                                                        state.faults, self.after_seed))
        finally:
            state.faults.teardown()
            self.engine.close()
            state.kill_all()
