"""The workload's faults over one run: when each starts, what it disturbed, how it ended.

Each fault runs in its own thread (start, hold for its duration, stop), so ticks and
measurements go on while a broker is killed, paused, restarted or replaced (a replacement
blocks ~10-20 s). Its start and end are events in the run's record (fault_start, fault_done),
beside the clients' samples.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from replaybench.clusters.platform import FaultRefused, ProcessControl
from replaybench.engine import faults
from replaybench.engine.fault_spec import FaultSpec
from replaybench.engine.ticker import TICK_NS
from replaybench.errors import RunError


class FaultFailed(RunError):
    """A fault that failed while it ran; the run fails with what it measured."""


@dataclass
class ScheduledFault:
    index: int
    spec: FaultSpec
    fault: faults.Fault
    started_ns: int = 0
    done_ns: int = 0
    error: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class FaultSchedule:
    def __init__(self, specs: list[FaultSpec], processes: ProcessControl | None, clock,
                 client_config: dict, topics: list[str]) -> None:
        """processes: what the cluster lets faults act on (None: nothing). client_config: how
        to reach the cluster (security settings included), for the replication samples taken
        while faults run. Every fault is set up here: one the cluster cannot take is refused
        (FaultRefused, naming faults[i]) before any actor starts."""
        self.processes, self.clock, self.topics = processes, clock, topics
        self.client_config = client_config
        self.faults = [ScheduledFault(i, s, faults.build(s.action, s.target_names(),
                                                         s.duration_s))
                       for i, s in enumerate(specs)]
        self._last_watch = 0
        self._admin = None
        self._urp = 0              #: partitions under-replicated at the latest sample
        self._disturbed = False    #: a sample since the first fault began showed some
        if self.faults and processes is None:
            raise FaultRefused("this workload has faults; they need the embedded cluster or a "
                               "--cluster-profile with hooks (a bare --bootstrap cannot be "
                               "reached by faults)")
        for f in self.faults:
            try:
                f.fault.setup(processes)
            except FaultRefused as exc:
                raise FaultRefused(f"faults[{f.index}] ({f.fault.describe()}): {exc}") from None

    @property
    def running(self) -> bool:
        return any(f.running for f in self.faults)

    @property
    def replicated(self) -> bool:
        """No fault running, and replication whole again where a fault disturbed it (the
        latest sample shows no partition under-replicated): a replaced broker's catch-up is
        part of what the fault costs, and its end is a figure of the run. A broker killed for
        good never heals: nothing is waited for then."""
        down = any(f.spec.action == "kill" and not f.spec.duration_s and f.started_ns
                   for f in self.faults)
        return not self.running and (down or not (self._disturbed and self._urp))

    def trigger(self, record, since_storm_ns: int, restored_percent: float) -> None:
        """Start every fault whose time or restore progress has come."""
        for f in self.faults:
            if f.started_ns:
                continue
            s = f.spec
            if (since_storm_ns >= s.at_s * 1e9) if s.at_s >= 0 else \
                    restored_percent >= s.at_restore_percent:
                self._begin(record, f, restored_percent)

    def trigger_after_phases(self, record, first_ns: int) -> None:
        """A migration's faults: each at at_s after the start of its after_phase, or after
        first_ns (the mirror's start; 0: not yet) without one; a phase not begun yet starts
        nothing."""
        now = self.clock()
        for f in self.faults:
            phase = f.spec.after_phase
            anchor = record.phase_bounds.get(phase, [0])[0] if phase else first_ns
            if not f.started_ns and anchor and now - anchor >= f.spec.at_s * 1e9:
                self._begin(record, f, 0.0)

    def _begin(self, record, f: ScheduledFault, restored_percent: float) -> None:
        _start(f, self.clock)
        record.event(f.started_ns, "fault_start", action=f.spec.action,
                     broker=f.spec.broker_id(), target=",".join(f.fault.targets), drill=f.index,
                     restore_percent=round(restored_percent, 1))

    def watch(self, record, snapshots: list, start_ns: int) -> None:
        """Live latency of the interval from start_ns (ns, one tick long) goes into each
        fault's own 'fault-N' accumulation when the interval overlaps the fault or the tick
        after it: a record sent to a frozen broker is acknowledged, and counted, when the
        broker is back, just after the fault ends. (Judged by when the snapshot was taken
        instead, those acks fell in or out of the window with the coordinator's timing: seen
        a 3 s freeze with a window p99.9 of 35 ms.) A finished fault is logged, a failed one
        fails the run; replication is sampled once any started."""
        for f in self.faults:
            if f.started_ns and start_ns + TICK_NS > f.started_ns and \
                    (not f.done_ns or start_ns < f.done_ns + TICK_NS):
                record.add_to(f"fault-{f.index}",
                              [s for s in snapshots if s.role in ("producer", "consumer")])
            if f.done_ns and not f.thread.is_alive() and f.done_ns > self._last_watch:
                record.event(f.done_ns, "fault_done", drill=f.index, action=f.spec.action,
                             duration_ns=f.done_ns - f.started_ns, error=f.error)
                if f.error:
                    raise FaultFailed(f"fault {f.index} ({f.fault.describe()}) failed: "
                                      f"{f.error}")
        self._last_watch = self.clock()
        if any(f.started_ns for f in self.faults):
            self._sample_replication(record)

    def finish(self, record) -> None:
        for f in self.faults:
            if not f.started_ns:
                record.event(self.clock(), "fault_skipped", drill=f.index,
                             reason="the restore finished before the trigger")
        record.faults = figures(record, self.faults, self.processes)

    def teardown(self) -> None:
        """Whatever the run's end, leave no process paused."""
        for f in self.faults:
            try:
                f.fault.teardown()
            except Exception:  # noqa: BLE001 - best effort: the cluster is stopped next
                pass

    def _sample_replication(self, record) -> None:
        from replaybench.clusters import health
        if not self.topics:   # nothing whose replication a fault could disturb
            return
        if self._admin is None:
            cfg = self.client_config
            self._admin = health.admin(cfg["bootstrap.servers"],
                                       {k: v for k, v in cfg.items() if k != "bootstrap.servers"})
        try:
            urp = len(health.under_replicated(self._admin, self.topics, timeout_s=2.0))
        except Exception:  # noqa: BLE001 - metadata unavailable mid-fault: not a sample
            return
        record.cluster_sample(self.clock(), urp)
        self._urp, self._disturbed = urp, self._disturbed or urp > 0


def _start(scheduled: ScheduledFault, clock) -> None:
    """Run the fault in a thread: start, hold for its duration, stop. done_ns is set when its
    targets are back (or, for a kill with duration 0, when they are down)."""
    def act() -> None:
        fault = scheduled.fault
        try:
            fault.start()
            if fault.lasts:
                try:
                    time.sleep(fault.duration_s)
                finally:
                    fault.stop()
        except Exception as exc:  # noqa: BLE001 - recorded as the fault's error, run fails
            scheduled.error = f"{type(exc).__name__}: {exc}"
        finally:
            scheduled.done_ns = clock()

    scheduled.started_ns = clock()
    scheduled.thread = threading.Thread(target=act, name=f"fault-{scheduled.index}", daemon=True)
    scheduled.thread.start()


def figures(record, scheduled: list[ScheduledFault],
            processes: ProcessControl | None) -> list[dict]:
    """Per fault: how long the restore stalled, when it resumed, live produce p99.9 during the
    fault, under-replicated partitions and the bytes its targets hold at the end."""
    readers = sorted((r["t_ns"], r["records"]) for r in record.timeseries if r["role"] == "reader")
    urp = [(r["t_ns"], r["under_replicated_partitions"]) for r in record.timeseries
           if r["role"] == "cluster"]
    caught_up = max((g["caught_up_ns"] for g in record.groups), default=0)
    rows = []
    for f in scheduled:
        s = f.spec
        row = {"drill": f.index, "action": s.action, "broker": s.broker_id(),
               "target": ",".join(f.fault.targets),
               "trigger": _trigger(s),
               "started_ns": f.started_ns, "done_ns": f.done_ns,
               "duration_ns": f.done_ns - f.started_ns if f.done_ns else 0, "error": f.error}
        if f.started_ns:
            stall, resumed = _stall(readers, f.started_ns, caught_up)
            lat = record.latency(f"fault-{f.index}", "producer")
            after = [(t, n) for t, n in urp if t >= f.started_ns]
            cleared = next((t for t, n in after if n == 0 and t > f.done_ns), 0) \
                if any(n for _, n in after) else 0
            row.update({"restore_stall_ns": stall, "restore_resumed_ns": resumed,
                        "produce_p99_9_ns": lat.percentile(99.9) if lat.count else 0,
                        "under_replicated_max": max((n for _, n in after), default=0),
                        "under_replicated_cleared_ns": cleared - f.started_ns if cleared else 0,
                        "broker_bytes_after": sum(processes.data_bytes(t)
                                                  for t in f.fault.targets) if processes else 0,
                        "startup_bytes_read": _startup_reads(processes, f)})
        rows.append(row)
    return rows


def _trigger(s: FaultSpec) -> str:
    if s.at_s < 0:
        return f"at_restore_percent={s.at_restore_percent:g}"
    return f"at_s={s.at_s:g}" + (f" after_phase={s.after_phase}" if s.after_phase else "")


def _startup_reads(processes: ProcessControl | None, f: ScheduledFault) -> int | None:
    """For a fault that started new processes on a cluster that can tell (an S3-backed
    broker): what they read from the object store before they accepted a connection."""
    spawned = f.spec.action in ("replace", "restart") or \
        (f.spec.action == "kill" and f.spec.duration_s > 0)
    if not spawned or processes is None:
        return None
    reads = [processes.startup_bytes_read(t) for t in f.fault.targets]
    known = [r for r in reads if r is not None]
    return sum(known) if known else None


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
