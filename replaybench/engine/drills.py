"""Fault drills run beside the storm: each in its own thread, so ticks and measurements go on
while a broker is killed, paused, restarted or replaced (a replacement blocks ~10-20 s)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from replaybench.engine.workload import Fault
from replaybench.errors import RunError


class Drillable(Protocol):
    """What a cluster offers drills (LocalKafkaCluster does)."""

    def kill(self, node_id: int) -> None: ...
    def restart(self, node_id: int) -> None: ...
    def replace(self, node_id: int) -> None: ...
    def pause(self, node_id: int) -> None: ...
    def resume(self, node_id: int) -> None: ...
    def data_bytes(self, node_id: int) -> int: ...


@dataclass
class Drill:
    index: int
    fault: Fault
    started_ns: int = 0
    done_ns: int = 0
    error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class DrillFailed(RunError):
    """A drill that cannot run, or that failed; the run fails with what it measured."""


class DrillPlan:
    """The workload's drills over one run: when each fires, what it disturbs, how it ended."""

    def __init__(self, faults, target: Drillable | None, clock, client_config: dict,
                 topics: list[str]) -> None:
        """client_config: how to reach the cluster (security settings included), for the
        replication samples taken while drills run."""
        self.drills = [Drill(i, f) for i, f in enumerate(faults)]
        self.target, self.clock, self.topics = target, clock, topics
        self.client_config = client_config
        self._last_watch = 0
        self._admin = None
        if self.drills and target is None:
            raise DrillFailed("this workload has faults; they need the embedded cluster or a "
                              "--cluster-profile with hooks (a bare --bootstrap cannot be drilled)")

    @property
    def running(self) -> bool:
        return any(d.running for d in self.drills)

    def trigger(self, record, since_storm_ns: int, restored_percent: float) -> None:
        """Start every drill whose time or restore progress has come."""
        for d in self.drills:
            if d.started_ns:
                continue
            f = d.fault
            if (since_storm_ns >= f.at_s * 1e9) if f.at_s >= 0 else \
                    restored_percent >= f.at_restore_percent:
                run(self.target, d, self.clock)
                record.event(d.started_ns, "fault_start", action=f.action, broker=f.broker,
                             drill=d.index, restore_percent=round(restored_percent, 1))

    def watch(self, record, snapshots: list) -> None:
        """Live latency while a drill runs goes into its own 'fault-N' accumulation; a finished
        drill is logged, a failed one fails the run; replication is sampled once any started."""
        for d in self.drills:
            if d.started_ns and (d.running or d.done_ns > self._last_watch):
                record.add_to(f"fault-{d.index}",
                              [s for s in snapshots if s.role in ("producer", "consumer")])
            if d.done_ns and not d.thread.is_alive() and d.done_ns > self._last_watch:
                record.event(d.done_ns, "fault_done", drill=d.index, action=d.fault.action,
                             duration_ns=d.done_ns - d.started_ns, error=d.error)
                if d.error:
                    raise DrillFailed(f"fault {d.index} ({d.fault.action} broker "
                                      f"{d.fault.broker}) failed: {d.error}")
        self._last_watch = self.clock()
        if any(d.started_ns for d in self.drills):
            self._sample_replication(record)

    def finish(self, record) -> None:
        for d in self.drills:
            if not d.started_ns:
                record.event(self.clock(), "fault_skipped", drill=d.index,
                             reason="the restore finished before the trigger")
        record.faults = figures(record, self.drills, self.target)

    def _sample_replication(self, record) -> None:
        from replaybench.clusters import health
        if self._admin is None:
            cfg = self.client_config
            self._admin = health.admin(cfg["bootstrap.servers"],
                                       {k: v for k, v in cfg.items() if k != "bootstrap.servers"})
        try:
            urp = len(health.under_replicated(self._admin, self.topics, timeout_s=2.0))
        except Exception:  # noqa: BLE001 - metadata unavailable mid-fault: not a sample
            return
        record.cluster_sample(self.clock(), urp)


def run(cluster: Drillable, drill: Drill, clock) -> None:
    """Start the drill's action in a thread; done_ns is set when the broker is back (or, for a
    kill with duration 0, when it is down)."""
    def act() -> None:
        f = drill.fault
        try:
            if f.action == "kill":
                cluster.kill(f.broker)
                if f.duration_s > 0:
                    time.sleep(f.duration_s)
                    cluster.restart(f.broker)
            elif f.action == "pause":
                cluster.pause(f.broker)
                try:
                    time.sleep(f.duration_s)
                finally:
                    cluster.resume(f.broker)
            elif f.action == "restart":
                cluster.restart(f.broker)
            elif f.action == "replace":
                cluster.replace(f.broker)
        except Exception as exc:  # noqa: BLE001 - recorded as the drill's error, run fails
            drill.error = f"{type(exc).__name__}: {exc}"
        finally:
            drill.done_ns = clock()

    drill.started_ns = clock()
    drill.thread = threading.Thread(target=act, name=f"drill-{drill.index}", daemon=True)
    drill.thread.start()




def figures(record, drills: list[Drill], target: Drillable | None) -> list[dict]:
    """Per drill: how long the restore stalled, when it resumed, live produce p99.9 during the
    drill, under-replicated partitions and the bytes the broker holds at the end."""
    readers = sorted((r["t_ns"], r["records"]) for r in record.timeseries if r["role"] == "reader")
    urp = [(r["t_ns"], r["under_replicated_partitions"]) for r in record.timeseries
           if r["role"] == "cluster"]
    caught_up = max((g["caught_up_ns"] for g in record.groups), default=0)
    rows = []
    for d in drills:
        row = {"drill": d.index, "action": d.fault.action, "broker": d.fault.broker,
               "trigger": f"at_s={d.fault.at_s:g}" if d.fault.at_s >= 0 else
               f"at_restore_percent={d.fault.at_restore_percent:g}",
               "started_ns": d.started_ns, "done_ns": d.done_ns,
               "duration_ns": d.done_ns - d.started_ns if d.done_ns else 0, "error": d.error}
        if d.started_ns:
            stall, resumed = _stall(readers, d.started_ns, caught_up)
            lat = record.latency(f"fault-{d.index}", "producer")
            after = [(t, n) for t, n in urp if t >= d.started_ns]
            cleared = next((t for t, n in after if n == 0 and t > d.done_ns), 0) \
                if any(n for _, n in after) else 0
            row.update({"restore_stall_ns": stall, "restore_resumed_ns": resumed,
                        "produce_p99_9_ns": lat.percentile(99.9) if lat.count else 0,
                        "under_replicated_max": max((n for _, n in after), default=0),
                        "under_replicated_cleared_ns": cleared - d.started_ns if cleared else 0,
                        "broker_bytes_after": target.data_bytes(d.fault.broker) if target else 0,
                        "startup_bytes_read": _startup_reads(target, d.fault)})
        rows.append(row)
    return rows


def _startup_reads(target, fault: Fault) -> int | None:
    """For a drill that started a new broker process on a cluster that can tell (an S3-backed
    broker): what that process read from the object store before it accepted a connection."""
    spawned = fault.action in ("replace", "restart") or \
        (fault.action == "kill" and fault.duration_s > 0)
    reads = getattr(target, "startup_bytes_read", None) if spawned else None
    return reads(fault.broker) if reads else None


def _stall(readers: list[tuple[int, int]], start: int, caught_up: int) -> tuple[int, int]:
    """Longest run of reader ticks without progress after `start` (ns), before the restore
    caught up, at tick resolution; and when progress came back, relative to `start`."""
    longest, run_start, resumed = 0, 0, 0
    for t, n in readers:
        if t < start or (caught_up and t > caught_up + 1_000_000_000):
            continue
        if n == 0:
            run_start = run_start or t - 1_000_000_000
        else:
            if run_start:
                longest = max(longest, t - run_start)
                resumed = resumed or t - start
            run_start = 0
    return longest, resumed
