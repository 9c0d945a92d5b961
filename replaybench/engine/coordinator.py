"""One run, top to bottom: seed → warmup → baseline → storm (with faults) → recovery →
drain → verify.

The coordinator builds roles as Ray actors, ticks them every second, merges their snapshots
into the RunRecord and decides phase changes from what they report. It holds actor handles
only; which node each actor runs on, the placer (node_placement.py) decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from replaybench.clusters.platform import ProcessControl
from replaybench.engine import actors
from replaybench.engine import role_builds as build
from replaybench.engine.fault_schedule import FaultSchedule
from replaybench.engine.node_placement import Placer
from replaybench.engine.partition_assignment import assign_partitions
from replaybench.engine.run_parts import Group, RunFailed, Topics
from replaybench.engine.ticker import Ticker, call, get
from replaybench.engine.verification import judge_group, judge_live, judge_replay
from replaybench.engine.workload import WorkloadSpec
from replaybench.meters.clock import Clock
from replaybench.meters.self_noise import HostSampler
from replaybench.results.run_record import RunRecord
from replaybench.roles.kinds import Role
from replaybench.roles.restore_reader import end_offsets, log_start_offsets
from replaybench.verdicts import client_bound

DRAIN_TIMEOUT_NS = 30_000_000_000


class Coordinator:
    def __init__(self, spec: WorkloadSpec, client_config: dict, topics: Topics,
                 record: RunRecord, on_tick: Callable[[Coordinator], None] | None = None,
                 after_seed: Callable[[], dict | None] | None = None,
                 processes: ProcessControl | None = None,
                 server_pids: Callable[[], dict[str, int]] | None = None,
                 role_configs: dict[str, dict] | None = None,
                 placer: Placer | None = None) -> None:
        """after_seed: run once the changelog is written (the embedded cluster flushes it to
        disk, so that its writeback does not land in the baseline). processes: the cluster's
        processes the workload's faults act on. server_pids: the cluster's server processes on this host,
        by name (asked every tick: a fault changes them), whose CPU each tick records.
        role_configs: per role (seeder, producer, consumer, reader), settings over
        client_config: on a secured cluster, that role's own login. placer: the Ray node of
        each actor (None: Ray's default scheduling)."""
        self.spec, self.client_config, self.topics, self.record = spec, client_config, topics, record
        self.role_configs = role_configs or {}
        self.placer = placer
        self.on_tick = on_tick or (lambda _c: None)
        self.after_seed = after_seed
        self.server_pids = server_pids or dict
        self.host = HostSampler()
        self.clock = Clock()
        self.handles: dict[str, Any] = {}
        self.roles: dict[str, Role] = {}   #: actor name -> what it is
        self.groups: list[Group] = []
        self.seeded = None
        self.targets: dict[int, int] = {}
        self.log_starts: dict[int, int] = {}   #: replay: each partition's log start at storm start
        self.ticker: Ticker | None = None
        self._per_actor: dict[str, dict[str, int]] = {}   #: counters summed over the run
        self._done: dict[str, bool] = {}
        self.faults = FaultSchedule(list(spec.faults), processes, self.clock, client_config,
                                    [topics.changelog, topics.live])

    # -- the run ----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._spawn()
            self._seed()
            self._start_live()
            self._warmup()
            self._timed_phase("baseline", self.spec.phases.baseline_s)
            self._storm()
            self._recovery()
            self._drain()
            self._verify()
        finally:
            self.faults.teardown()
            self._kill_all()

    def _spawn(self) -> None:
        """Every actor up front, so starting a phase is a method call, not a process start."""
        self._spawn_seeder()
        self._spawn_live()
        self._spawn_restorers()
        for name, handle in self.handles.items():
            self.record.placement[name] = get(handle.where.remote(), name, "start")
        self.record.event(self.clock(), "actors_ready", count=len(self.handles),
                          nodes=len({p["node_id"] for p in self.record.placement.values()}))

    def _spawn_seeder(self) -> None:
        if not self.spec.topic.existing:   # a replayed topic is read, never written
            self._actor("seeder-0", Role.SEEDER, build.seeder(self.spec, self._config("seeder"),
                                                              self.topics.changelog))

    def _spawn_live(self) -> None:
        keys, parts = self._live_layout()
        for i in range(self.spec.live.producers):
            self._actor(f"producer-{i}", Role.PRODUCER, build.producer(
                self.spec, self._config("producer"), self.topics.live, i, keys, parts,
                self._appends()))
        for i in range(self.spec.live.consumers):
            self._actor(f"consumer-{i}", Role.CONSUMER, self._consumer(i, keys, parts))

    def _consumer(self, i: int, live_keys: int, live_parts: int) -> Callable:
        return build.tail_consumer(self.spec, self._config("consumer"), self.topics.live, i,
                                   live_keys, live_parts)

    def _spawn_restorers(self) -> None:
        spec = self.spec
        for g in range(spec.storm.groups if spec.storm.readers else 0):
            group = Group(g, [])
            for r, mine in enumerate(assign_partitions(spec.topic.partitions, spec.storm.readers)):
                group.readers.append(f"reader-{g}-{r}")
                self._actor(group.readers[-1], Role.READER, build.reader(
                    spec, self._config("reader"), self.topics.changelog, g, r, mine,
                    foreign=spec.topic.existing))
            self.groups.append(group)

    def _config(self, role: str) -> dict:
        return {**self.client_config, **self.role_configs.get(role, {})}

    def _seed(self) -> None:
        if self.spec.topic.existing:
            self.record.event(self.clock(), "replay", topic=self.topics.changelog)
            return
        self._enter("seed")
        ticker = self._new_ticker()
        ticker.add("seeder-0", self.handles["seeder-0"])
        while ticker.queues:
            self._step()
            if self._done.get("seeder-0"):
                ticker.retire("seeder-0")
        self.seeded = call(self.handles["seeder-0"], "seeder-0", "result")
        self.record.event(self.clock(), "seeded", records=self.seeded.records,
                          bytes=self.seeded.bytes, duration_ns=self.seeded.duration_ns)
        self._kill("seeder-0")
        if self.after_seed:
            start = self.clock()
            seen = self.after_seed() or {}
            self.record.event(self.clock(), "seed_flushed", duration_ns=self.clock() - start, **seen)

    def _start_live(self) -> None:
        """Producers share one schedule origin, the start of their first tick; tail consumers
        start where the topic ends."""
        tails = self._tail_offsets()
        for name in self._names(Role.CONSUMER):
            call(self.handles[name], name, "start", tails)
        ticker = self._new_ticker()
        origin = ticker.deadline - ticker.tick_ns
        for name in self._names(Role.PRODUCER):
            self.handles[name].call.remote("start", origin)
        for name in self._names(Role.CONSUMER) + self._names(Role.PRODUCER):
            ticker.add(name, self.handles[name])

    def _tail_offsets(self) -> dict[int, int] | None:
        """Where tail consumers start: the live topic's end (None: from 0, a fresh topic)."""
        if not self._appends():
            return None
        return end_offsets(self.client_config, self.topics.live, self.spec.topic.partitions)

    def _timed_phase(self, phase: str, seconds: float) -> None:
        if seconds <= 0 or not self.ticker.active():
            return
        self._enter(phase)
        end = self.clock() + int(seconds * 1e9)
        while self.clock() < end:
            self._step()

    def _warmup(self) -> None:
        """Live traffic until its latency is steady: at least warmup_s, at most warmup_max_s.

        A fresh broker's JIT compiles the live-traffic path for ~20 s once live traffic starts
        (its C2 thread takes up to a core on a 2-core machine; p99 ~200 ms falling to ~10 ms);
        a baseline taken then would flatter every storm. Steady: the last 2 x settle_ticks ticks'
        producer p99 each within 2x of the lowest tick p99 seen so far (steady *and* low: a
        broker can be steadily slow while it compiles). Twice settle_ticks, so that a few quiet
        ticks in a noisy stretch do not end it.
        """
        phases = self.spec.phases
        if not self._names(Role.PRODUCER):
            self._timed_phase("warmup", phases.warmup_s)
            return
        self._enter("warmup")
        start = self.clock()
        while self.clock() - start < phases.warmup_max_s * 1e9:
            self._step()
            seen = [r["p99_ns"] for r in self.record.timeseries if r["role"] == "producer"
                    and r["phase"] == "warmup" and r["latency_count"]]
            recent = seen[-2 * phases.settle_ticks:]
            steady = len(recent) == 2 * phases.settle_ticks and max(recent) <= 2 * min(seen)
            if steady and self.clock() - start >= phases.warmup_s * 1e9:
                self.record.event(self.clock(), "steady", p99_ns=recent)
                return
        self.record.event(self.clock(), "warmup_capped", seconds=phases.warmup_max_s)

    def _storm(self) -> None:
        if not self.groups:
            return
        self._enter("storm")
        self.targets = end_offsets(self.client_config, self.topics.changelog,
                                   self.spec.topic.partitions)
        if self.spec.topic.existing:
            self.log_starts = log_start_offsets(self.client_config, self.topics.changelog,
                                                self.spec.topic.partitions)
        # Restore groups start (and are staggered) from the moment their targets are known.
        storm_start = self.clock()
        self.record.event(storm_start, "targets", offsets=self.targets,
                          log_starts=self.log_starts)
        timeout_ns = int(self.spec.phases.storm_timeout_s * 1e9)
        stagger_ns = int(self.spec.storm.stagger_s * 1e9)
        while any(not g.caught_up_ns for g in self.groups) or self.faults.running:
            now = self.clock()
            self.faults.trigger(self.record, now - storm_start, self._restored_percent())
            for group in self.groups:
                if not group.start_ns and now >= storm_start + group.index * stagger_ns:
                    self._start_group(group)
            if now - storm_start > timeout_ns:
                behind = [n for g in self.groups for n in g.readers if n in self.ticker.queues]
                self.record.event(now, "storm_timeout", readers=behind)
                raise RunFailed(f"restore not caught up within phases.storm_timeout_s="
                                f"{self.spec.phases.storm_timeout_s:g}: {', '.join(behind)}")
            self._step()

    def _restored_percent(self) -> float:
        """How much of its target the first restore group has read."""
        done = sum(self._per_actor.get(n, {}).get("records", 0) for n in self.groups[0].readers)
        return 100 * done / (sum(self.targets.values()) or 1)

    def _start_group(self, group: Group, targets: dict[int, int] | None = None) -> None:
        group.start_ns = self.clock()
        for name in group.readers:
            self.handles[name].call.remote("start", group.start_ns, targets or self.targets)
            self.ticker.add(name, self.handles[name])
        self.record.event(group.start_ns, "group_started", group=group.index,
                          readers=len(group.readers))

    def _recovery(self) -> None:
        """Live traffic alone until latency settles back near baseline, or recovery_s."""
        phases = self.spec.phases
        if phases.recovery_s <= 0 or not self._names(Role.PRODUCER):
            self._timed_phase("recovery", phases.recovery_s)
            return
        self._enter("recovery")
        baseline_p99 = self.record.latency("baseline", "producer").percentile(99.0)
        end = self.clock() + int(phases.recovery_s * 1e9)
        calm = 0
        while self.clock() < end:
            self._step()
            p99 = next(r["p99_ns"] for r in reversed(self.record.timeseries) if r["role"] == "producer")
            calm = calm + 1 if baseline_p99 and p99 <= phases.settle_ratio * baseline_p99 else 0
            if calm >= phases.settle_ticks:
                self.record.event(self.clock(), "settled", p99_ns=p99, baseline_p99_ns=baseline_p99)
                return

    def _drain(self) -> None:
        """Stop producing, wait for every ack, then for the tail consumers to read every record."""
        self._enter("drain")
        self._stop_producers()
        acked = self._total(Role.PRODUCER, "acked")
        deadline = self.clock() + DRAIN_TIMEOUT_NS
        while self._names(Role.CONSUMER) and self.clock() < deadline and any(
                self._consumed(n) < acked for n in self._names(Role.CONSUMER)):
            self._step()
        for name in self._names(Role.CONSUMER):
            self.ticker.retire(name)
        while self.ticker.queues:
            self._step()

    # -- verification -----------------------------------------------------------------------

    def _stop_producers(self) -> None:
        """Retire the producers, then record what their last flush brought in."""
        producers = self._names(Role.PRODUCER)
        for name in producers:
            self.ticker.retire(name)
        while any(n in self.ticker.queues for n in producers):
            self._step()
        self._record(self.clock(), [(n, call(self.handles[n], n, "finish")) for n in producers])

    def _verify(self) -> None:
        self._enter("verify")
        self.faults.finish(self.record)
        deliveries = self._changelog_deliveries()
        for group in self.groups:
            results = [call(self.handles[n], n, "result") for n in group.readers]
            self._verify_group(group, results, deliveries)
        self._verify_live()

    def _verify_group(self, group: Group, results: list, deliveries: np.ndarray) -> None:
        if self.spec.topic.existing:
            verdict = judge_replay(group.index, group.start_ns, results, self.targets,
                                   self.log_starts)
        else:
            verdict = judge_group(group.index, group.start_ns, results,
                                  self.seeded.expected_versions, self.seeded.expected_live,
                                  self.targets, deliveries)
        group.caught_up_ns = verdict.group_row["caught_up_ns"]
        self.record.groups.append({**verdict.group_row, **self._holdup(group, verdict.group_row)})
        self.record.partitions.extend(verdict.partition_rows)
        self.record.verification.extend(verdict.checks)

    def _holdup(self, group: Group, row: dict) -> dict:
        """Whether the group's readers, not the cluster, set its restore time."""
        summed = self._summed(group.readers)
        idle = sum(group.host_idle) / len(group.host_idle) if group.host_idle else None
        judged = client_bound.judge(summed, len(group.readers),
                                    row["restore_time_ns"] or self.clock() - group.start_ns,
                                    idle, shared_host=bool(self.server_pids()),
                                    host_cores=psutil.cpu_count() or 1)
        return {"verdict": judged.verdict, "verdict_reasons": "; ".join(judged.reasons),
                **judged.evidence}

    def _verify_live(self) -> None:
        if not self._names(Role.PRODUCER):
            return
        ends = end_offsets(self.client_config, self.topics.live, self._live_layout()[1])
        seeded = self.seeded.records if self._appends() and self.seeded else 0
        if blind := self._total(Role.PRODUCER, "acked_without_offset"):
            self.record.event(self.clock(), "acks_without_offset", records=blind)
        consumers = self._names(Role.CONSUMER)
        self.record.verification.extend(judge_live(
            self._total(Role.PRODUCER, "acked"), sum(ends.values()) - seeded,
            self._total(Role.PRODUCER, "acked_offset_rewinds"),
            {n: self._consumed(n) for n in consumers}, self._summed(consumers)))

    def _step(self) -> None:
        start, snaps = self.ticker.step()
        self._record(start, snaps)
        self.faults.watch(self.record, [s for _, s in snaps])
        for name, snap in snaps:
            if self.roles.get(name) is Role.READER and snap.done and name not in self.ticker.retiring:
                self.ticker.retire(name)
                self.record.event(snap.t_ns, "reader_caught_up", actor=name)
        for group in self.groups:
            if group.start_ns and not group.caught_up_ns and not any(
                    n in self.ticker.queues for n in group.readers):
                group.caught_up_ns = max(call(self.handles[n], n, "caught_up_at")
                                         for n in group.readers)
                self.record.event(group.caught_up_ns, "group_caught_up", group=group.index,
                                  restore_time_ns=group.caught_up_ns - group.start_ns)
        self.on_tick(self)

    def _record(self, start: int, snaps: list) -> None:
        host = self.host.sample(self.server_pids())
        self.record.add_interval(self.ticker.count if self.ticker else 0, start,
                                 [s for _, s in snaps], host)
        for name, snap in snaps:
            mine = self._per_actor.setdefault(name, {})
            for key, value in snap.counters.items():
                mine[key] = mine.get(key, 0) + value
            self._done[name] = snap.done
            for error in snap.errors:
                self.record.event(snap.t_ns, "error", actor=name, message=error)
            if snap.errors:
                raise RunFailed(snap.errors[0])
        for group in self.groups:   # ticks the whole of which the group spent restoring
            if group.start_ns and group.start_ns <= start and \
                    not all(self._done.get(n) for n in group.readers):
                group.host_idle.append(host["host_idle_share"])

    def _consumed(self, name: str) -> int:
        return self._per_actor.get(name, {}).get("records", 0)

    def _summed(self, names: list[str]) -> dict[str, int]:
        """These actors' counters, summed over them and over the run."""
        summed: dict[str, int] = {}
        for name in names:
            for key, value in self._per_actor.get(name, {}).items():
                summed[key] = summed.get(key, 0) + value
        return summed

    def _total(self, role: Role, counter: str) -> int:
        return sum(self._per_actor.get(n, {}).get(counter, 0) for n in self._names(role))

    def _enter(self, phase: str) -> None:
        self.record.enter(phase, self.clock())

    def _new_ticker(self) -> Ticker:
        self.ticker = Ticker(self.clock)
        return self.ticker

    def _actor(self, name: str, role: Role, build: Callable) -> None:
        self.roles[name] = role
        node = self.placer.node_for(name, role) if self.placer else None
        self.handles[name] = actors.spawn(build, name, node)
        if self.placer:
            self.record.placement_plan = self.placer.describe()

    def _names(self, role: Role) -> list[str]:
        return [n for n, r in self.roles.items() if r is role]

    def _appends(self) -> bool:
        return self.spec.live.topic == "changelog"

    def _live_layout(self) -> tuple[int, int]:
        """(keys, partitions) of the topic live traffic goes to."""
        if self._appends():
            return self.spec.seed.keys, self.spec.topic.partitions
        return self.spec.live.keys, self.spec.live.partitions

    def _changelog_deliveries(self) -> np.ndarray:
        if not self._appends():
            return np.zeros((0, 4), np.int64)
        parts = [call(self.handles[n], n, "deliveries") for n in self._names(Role.PRODUCER)]
        return np.concatenate(parts) if parts else np.zeros((0, 4), np.int64)

    def _kill(self, name: str) -> None:
        import ray
        handle = self.handles.pop(name, None)
        if handle is not None:
            ray.kill(handle)

    def _kill_all(self) -> None:
        for name in list(self.handles):
            self._kill(name)

