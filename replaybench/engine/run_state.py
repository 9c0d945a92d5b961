"""What every phase and every restore engine of a run works through: its actors (by name and
role), the ticker that ticks them, what they reported, and the run record.

It knows nothing of phases or engines: a schedule (schedules.py) says what happens when, and
the engines (reader_engine.py, streams_engine.py) what a restore is; both act on a RunState.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from replaybench.engine import actors
from replaybench.engine.fault_schedule import FaultSchedule
from replaybench.engine.node_placement import Placer
from replaybench.engine.run_parts import Group, RunFailed, Topics
from replaybench.engine.ticker import ActorFailed, Ticker, call, get
from replaybench.engine.workload import WorkloadSpec
from replaybench.meters.clock import Clock
from replaybench.meters.self_noise import HostSampler
from replaybench.results.run_record import RunRecord
from replaybench.roles.kinds import Role


@dataclass(frozen=True)
class Progress:
    """What the display (and a test watching a run) may know of a run at a tick."""
    phase: str
    phase_started_ns: int              #: since the run began
    elapsed_ns: int                    #: at the latest tick, since the run began
    restored_records: int              #: by every restore group so far
    restore_target_records: int        #: what they must read (0: not known yet)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  #: role -> latest tick row
    placement: dict[str, dict[str, str]] = field(default_factory=dict)  #: actor -> node, pid


class RunState:
    def __init__(self, spec: WorkloadSpec, client_config: dict, topics: Topics,
                 record: RunRecord, faults: FaultSchedule, clock: Clock,
                 server_pids: Callable[[], dict[str, int]] | None = None,
                 role_configs: dict[str, dict] | None = None,
                 placer: Placer | None = None) -> None:
        """client_config: the harness's (admin's) settings; role_configs: per role, settings
        over it (on a secured cluster, that role's own login); server_pids: the cluster's
        server processes on this host by name (asked every tick: a fault changes them);
        placer: each actor's Ray node (None: Ray's default scheduling)."""
        self.spec, self.client_config, self.topics, self.record = spec, client_config, topics, record
        self.faults = faults
        self.role_configs = role_configs or {}
        self.placer = placer
        self.server_pids = server_pids or dict
        self.host = HostSampler()
        self.clock = clock
        self.handles: dict[str, Any] = {}
        self.roles: dict[str, Role] = {}   #: actor name -> what it is
        self.groups: list[Group] = []      #: restore groups, each judged on its own
        self.targets: dict[int, int] = {}  #: the restore's end offsets, per partition
        self.ticker: Ticker | None = None
        self.per_actor: dict[str, dict[str, int]] = {}   #: counters summed over the run
        self.done: dict[str, bool] = {}                  #: actor -> its last tick said done
        self.on_tick: list[Callable[[RunState], None]] = []   #: after every tick
        self.last_snaps: list = []   #: (actor, Snapshot) of the latest tick

    # -- actors -----------------------------------------------------------------------------

    def config(self, role: str) -> dict:
        """The client settings of a role: the harness's, with the role's own login over them."""
        return {**self.client_config, **self.role_configs.get(role, {})}

    def actor(self, name: str, role: Role, build: Callable) -> None:
        self.roles[name] = role
        node = self.placer.node_for(name, role) if self.placer else None
        self.handles[name] = actors.spawn(build, name, node)
        if self.placer:
            self.record.placement_plan = self.placer.describe()

    def call(self, name: str, method: str, *args):
        return call(self.handles[name], name, method, *args)

    def call_each(self, names: list[str], method: str, *args) -> dict[str, Any]:
        """The same call into several actors at once, each answer by its actor's name; an
        actor that failed or is gone is left out."""
        asked = {name: self.handles[name].call.remote(method, *args) for name in names}
        answers = {}
        for name, ref in asked.items():
            try:
                answers[name] = get(ref, name, method)
            except ActorFailed:
                continue
        return answers

    def names(self, role: Role) -> list[str]:
        return [n for n, r in self.roles.items() if r is role]

    def placed(self) -> None:
        """Where every actor landed, once all are up."""
        for name, handle in self.handles.items():
            self.record.placement[name] = get(handle.where.remote(), name, "start")
        self.record.event(self.clock(), "actors_ready", count=len(self.handles),
                          nodes=len({p["node_id"] for p in self.record.placement.values()}))

    def kill(self, name: str) -> None:
        import ray
        handle = self.handles.pop(name, None)
        if handle is not None:
            ray.kill(handle)

    def kill_all(self) -> None:
        for name in list(self.handles):
            self.kill(name)

    # -- ticks ------------------------------------------------------------------------------

    def new_ticker(self) -> Ticker:
        self.ticker = Ticker(self.clock)
        return self.ticker

    def tick(self, name: str) -> None:
        """Tick this actor from now on."""
        self.ticker.add(name, self.handles[name])

    def retire(self, names: list[str]) -> None:
        """Tick these actors no more, and tick on until their queued ticks are in."""
        for name in names:
            self.ticker.retire(name)
        while any(n in self.ticker.queues for n in names):
            self.step()

    def step(self) -> None:
        """One tick of every ticking actor: their snapshots into the record, faults watched,
        an actor's error fails the run."""
        start, snaps = self.ticker.step()
        self.last_snaps = snaps
        self.note(start, snaps)
        self.faults.watch(self.record, [s for _, s in snaps], start)
        for hook in self.on_tick:
            hook(self)

    def note(self, start: int, snaps: list) -> None:
        """Record one interval's snapshots and the host's CPU."""
        host = self.host.sample(self.server_pids())
        self.record.add_interval(self.ticker.count if self.ticker else 0, start,
                                 [s for _, s in snaps], host)
        for name, snap in snaps:
            mine = self.per_actor.setdefault(name, {})
            for key, value in snap.counters.items():
                mine[key] = mine.get(key, 0) + value
            self.done[name] = snap.done
            for error in snap.errors:
                self.record.event(snap.t_ns, "error", actor=name, message=error)
            if snap.errors:
                raise RunFailed(snap.errors[0])
        for group in self.groups:   # ticks the whole of which the group spent restoring
            if group.start_ns and group.start_ns <= start and \
                    not all(self.done.get(n) for n in group.readers):
                group.host_idle.append(host["host_idle_share"])

    def enter(self, phase: str) -> None:
        self.record.enter(phase, self.clock())

    # -- counters ---------------------------------------------------------------------------

    def consumed(self, name: str) -> int:
        return self.per_actor.get(name, {}).get("records", 0)

    def summed(self, names: list[str]) -> dict[str, int]:
        """These actors' counters, summed over them and over the run."""
        summed: dict[str, int] = {}
        for name in names:
            for key, value in self.per_actor.get(name, {}).items():
                summed[key] = summed.get(key, 0) + value
        return summed

    def total(self, role: Role, counter: str) -> int:
        return sum(self.per_actor.get(n, {}).get(counter, 0) for n in self.names(role))

    def progress(self) -> Progress:
        record = self.record
        latest: dict[str, dict[str, Any]] = {}
        for row in reversed(record.timeseries):
            if row["tick"] != record.timeseries[-1]["tick"]:
                break
            # a migration's two mirrors each under their own name (mirror-forward, ...)
            latest[f"{row['role']}-{row['mirror']}" if row.get("mirror") else row["role"]] = row
        bounds = record.phase_bounds.get(record.phase)
        return Progress(
            record.phase, bounds[0] - record.started_ns if bounds else 0,
            record.timeseries[-1]["elapsed_ns"] if record.timeseries else 0,
            sum(r["records"] for r in record.timeseries if r["role"] == "reader"),
            sum(self.targets.values()) * max(len(self.groups), 1), latest,
            dict(record.placement))
