"""replaybench's own restore readers as the restore engine (storm.engine: readers): restore
groups of readers, each reading its partitions of the changelog from offset 0 and folding it
into state, judged key by key against what the seeder wrote (or, replaying an existing topic,
every offset accounted for)."""

from __future__ import annotations

import os

from replaybench.engine import role_builds as build
from replaybench.engine.partition_assignment import assign_partitions
from replaybench.engine.restore_engine import RestoreEngine
from replaybench.engine.run_parts import Group
from replaybench.roles.kinds import Role
from replaybench.roles.restore_reader import end_offsets, log_start_offsets
from replaybench.verdicts import client_bound
from replaybench.verdicts.restore_verification import judge_group, judge_replay


class ReaderEngine(RestoreEngine):
    name = "readers"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.log_starts: dict[int, int] = {}   #: replay: each partition's log start at storm start
        self.storm_start = 0

    def spawn(self) -> None:
        s = self.state
        spec = s.spec
        for g in range(spec.storm.groups if spec.storm.readers else 0):
            group = Group(g, [])
            for r, mine in enumerate(assign_partitions(spec.topic.partitions, spec.storm.readers)):
                group.readers.append(f"reader-{g}-{r}")
                s.actor(group.readers[-1], Role.READER, build.reader(
                    spec, s.config("reader"), s.topics.changelog, g, r, mine,
                    foreign=spec.topic.existing))
            s.groups.append(group)
        s.on_tick.append(retire_caught_up)

    @property
    def restores(self) -> bool:
        return bool(self.state.groups)

    def start(self) -> None:
        """Restore groups start (and are staggered) from the moment their targets are known."""
        s = self.state
        s.targets = end_offsets(s.client_config, s.topics.changelog, s.spec.topic.partitions)
        if s.spec.topic.existing:
            self.log_starts = log_start_offsets(s.client_config, s.topics.changelog,
                                                s.spec.topic.partitions)
        self.storm_start = s.clock()
        s.record.event(self.storm_start, "targets", offsets=s.targets, log_starts=self.log_starts)

    def every_tick(self) -> None:
        s = self.state
        stagger_ns = int(s.spec.storm.stagger_s * 1e9)
        for group in s.groups:
            if not group.start_ns and s.clock() >= self.storm_start + group.index * stagger_ns:
                start_group(s, group)

    def caught_up(self) -> bool:
        return all(g.caught_up_ns for g in self.state.groups)

    def behind(self) -> str:
        s = self.state
        late = [n for g in s.groups for n in g.readers if n in s.ticker.queues]
        s.record.event(s.clock(), "storm_timeout", readers=late)
        return f"restore not caught up within phases.storm_timeout_s=" \
               f"{s.spec.phases.storm_timeout_s:g}: {', '.join(late)}"

    def restored_percent(self) -> float:
        """How much of its target the first restore group has read."""
        s = self.state
        done = sum(s.per_actor.get(n, {}).get("records", 0) for n in s.groups[0].readers)
        return 100 * done / (sum(s.targets.values()) or 1)

    def drained(self) -> bool:
        return self.live.consumers_caught_up()

    def end_drain(self) -> None:
        s = self.state
        for name in s.names(Role.CONSUMER):
            s.ticker.retire(name)
        while s.ticker.queues:
            s.step()

    def verify(self) -> None:
        s = self.state
        deliveries = self.live.changelog_deliveries()
        for group in s.groups:
            results = [s.call(n, "result") for n in group.readers]
            if s.spec.topic.existing:
                verdict = judge_replay(group.index, group.start_ns, results, s.targets,
                                       self.log_starts)
            else:
                verdict = judge_group(group.index, group.start_ns, results,
                                      self.live.seeded.expected_versions,
                                      self.live.seeded.expected_live, s.targets, deliveries)
            group.caught_up_ns = verdict.group_row["caught_up_ns"]
            s.record.groups.append({**verdict.group_row, **holdup(s, group, verdict.group_row)})
            s.record.partitions.extend(verdict.partition_rows)
            s.record.verification.extend(verdict.checks)
        self.live.verify()


def retire_caught_up(s) -> None:
    """After every tick: a reader that says it is done ticks no more, and a group none of
    whose readers still ticks has caught up."""
    for name, snap in s.last_snaps:
        if s.roles.get(name) is Role.READER and snap.done and name not in s.ticker.retiring:
            s.ticker.retire(name)
            s.record.event(snap.t_ns, "reader_caught_up", actor=name)
    for group in s.groups:
        if group.start_ns and not group.caught_up_ns and not any(
                n in s.ticker.queues for n in group.readers):
            group.caught_up_ns = max(s.call(n, "caught_up_at") for n in group.readers)
            s.record.event(group.caught_up_ns, "group_caught_up", group=group.index,
                           restore_time_ns=group.caught_up_ns - group.start_ns)


def start_group(s, group: Group, targets: dict[int, int] | None = None) -> None:
    """Every reader of the group starts now, reading up to `targets` (default: the run's)."""
    group.start_ns = s.clock()
    for name in group.readers:
        s.handles[name].call.remote("start", group.start_ns, targets or s.targets)
        s.tick(name)
    s.record.event(group.start_ns, "group_started", group=group.index,
                   readers=len(group.readers))


def holdup(s, group: Group, row: dict) -> dict:
    """Whether the group's readers, not the cluster, set its restore time."""
    summed = s.summed(group.readers)
    idle = sum(group.host_idle) / len(group.host_idle) if group.host_idle else None
    host = _load_machine(s.server_pids())
    judged = client_bound.judge(summed, len(group.readers),
                                row["restore_time_ns"] or s.clock() - group.start_ns, idle, **host)
    return {"verdict": judged.verdict, "verdict_reasons": "; ".join(judged.reasons),
            **judged.evidence, **host}


def _load_machine(server_pids: dict[str, int]) -> dict:
    """The cores the harness may use (all, or its share of a CPU budget), and whether any of
    the cluster's servers runs on them too."""
    mine = os.sched_getaffinity(0)
    shared = False
    for pid in server_pids.values():
        try:
            shared = shared or bool(os.sched_getaffinity(pid) & mine)
        except OSError:   # gone meanwhile (a fault replaced it): not on the cores now
            continue
    return {"shared_host": shared, "host_cores": len(mine)}
