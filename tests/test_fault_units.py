"""Faults as objects (engine/faults.py) and their schedule, over a small fake process table:
what each fault does to which process and in what order, what it refuses before the run, and
that a composed workload runs two faults on two kinds of process at once. (The same faults
against real brokers and a real S3 server: test_cluster_drills.py, test_run_cli.py.)"""

from __future__ import annotations

import threading
import time

import pytest

from replaybench.clusters.platform import ACTIONS, FaultRefused, ProcessControl
from replaybench.engine import faults
from replaybench.engine.fault_schedule import FaultSchedule
from replaybench.engine.fault_spec import FaultSpec
from replaybench.results.run_record import RunRecord

REPLACE_S = 0.4   #: a fake replacement's length: long against a loaded machine's scheduling


class Processes(ProcessControl):
    """Brokers 1-3 take everything; the S3 server only pause and resume."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def actions(self) -> dict[str, frozenset[str]]:
        return {**{f"broker-{n}": frozenset(ACTIONS) for n in (1, 2, 3)},
                "s3": frozenset({"pause", "resume"})}

    def _did(self, action: str, process: str) -> None:
        self.check(action, process)
        with self.lock:
            self.calls.append((action, process))

    def kill(self, process: str) -> None:
        self._did("kill", process)

    def restart(self, process: str) -> None:
        self._did("restart", process)

    def replace(self, process: str) -> None:
        time.sleep(REPLACE_S)
        self._did("replace", process)

    def pause(self, process: str) -> None:
        self._did("pause", process)

    def resume(self, process: str) -> None:
        self._did("resume", process)


@pytest.mark.parametrize(("action", "duration", "expected"), [
    ("kill", 0.0, [("kill", "broker-2")]),
    ("kill", 0.01, [("kill", "broker-2"), ("restart", "broker-2")]),
    ("pause", 0.01, [("pause", "broker-2"), ("resume", "broker-2")]),
    ("restart", 5.0, [("restart", "broker-2")]),
    ("replace", 5.0, [("replace", "broker-2")]),
])
def test_each_fault_starts_and_stops_what_it_names(action, duration, expected):
    processes = Processes()
    fault = faults.build(action, ["broker-2"], duration)
    fault.setup(processes)
    fault.start()
    if fault.lasts:
        fault.stop()
    assert processes.calls == expected


@pytest.mark.alone
def test_a_fault_with_several_targets_acts_on_them_all_at_once():
    processes = Processes()
    fault = faults.build("replace", ["broker-1", "broker-3"], 0)
    fault.setup(processes)
    started = time.monotonic()
    fault.start()
    assert sorted(processes.calls) == [("replace", "broker-1"), ("replace", "broker-3")]
    # concurrently: one after the other, they would take 2 x REPLACE_S
    assert time.monotonic() - started < 1.5 * REPLACE_S


def test_teardown_resumes_what_a_failed_run_left_paused():
    processes = Processes()
    fault = faults.build("pause", ["s3", "broker-1"], 60)
    fault.setup(processes)
    fault.start()
    fault.teardown()
    assert sorted(c for c in processes.calls if c[0] == "resume") == [
        ("resume", "broker-1"), ("resume", "s3")]
    fault.teardown()   # nothing left paused: nothing more to do
    assert len(processes.calls) == 4


@pytest.mark.parametrize(("spec", "message"), [
    (FaultSpec(action="replace", targets=("s3",), at_s=1),
     "faults[0] (replace s3): s3 cannot replace here (it can pause, resume)"),
    (FaultSpec(action="kill", targets=("broker-7",), at_s=1, duration_s=0),
     "faults[0] (kill broker-7): no process 'broker-7' on this cluster (it has broker-1, "
     "broker-2, broker-3, s3)"),
])
def test_a_fault_the_cluster_cannot_take_is_refused_before_the_run(spec, message):
    with pytest.raises(FaultRefused) as refused:
        FaultSchedule([spec], Processes(), time.monotonic_ns, {}, [])
    assert str(refused.value) == message


def test_faults_need_somewhere_to_act():
    with pytest.raises(FaultRefused, match="a bare --bootstrap cannot be reached by faults"):
        FaultSchedule([FaultSpec(at_s=1)], None, time.monotonic_ns, {}, [])


@pytest.mark.alone
def test_a_composed_workload_pauses_the_s3_server_while_it_replaces_a_broker():
    # the pause outlasts the replacement (REPLACE_S), so the replacement falls inside it
    specs = [FaultSpec(action="pause", targets=("s3",), at_s=0, duration_s=4 * REPLACE_S),
             FaultSpec(action="replace", broker=2, at_restore_percent=10)]
    processes = Processes()
    schedule = FaultSchedule(specs, processes, time.monotonic_ns, {}, [])
    record = RunRecord("r", time.monotonic_ns())
    schedule.trigger(record, 0, 0.0)            # the pause is due, the replacement is not
    time.sleep(0.05)
    assert processes.calls == [("pause", "s3")]
    schedule.trigger(record, 100_000_000, 12.0)  # 12 % restored: now the replacement
    while schedule.running:
        time.sleep(0.01)
    assert processes.calls == [("pause", "s3"), ("replace", "broker-2"), ("resume", "s3")]
    started = [e for e in record.events if e["kind"] == "fault_start"]
    assert [(e["kind"], '"target": "s3"' in e["detail"]) for e in started] == [
        ("fault_start", True), ("fault_start", False)]


def test_a_fault_without_targets_hashes_as_before_targets_existed():
    old = FaultSpec(action="replace", broker=2, at_restore_percent=30)
    assert "targets" not in old.model_dump() and old.target_names() == ["broker-2"]
    assert FaultSpec(targets=("s3", "broker-3"), at_s=1).broker_id() == 3
    with pytest.raises(ValueError, match="broker or targets, not both"):
        FaultSpec(broker=2, targets=("broker-2",), at_s=1)


def test_a_union_of_clusters_routes_each_name_to_the_cluster_that_owns_it():
    from replaybench.clusters.process_union import ProcessUnion
    source, target = Processes(), Processes()
    union = ProcessUnion({"source": source, "target": target, "": None})
    assert {"source-broker-2", "target-s3"} <= set(union.actions())
    fault = faults.build("kill", ["target-broker-2"], 0.01)
    fault.setup(union)
    fault.start()
    fault.stop()
    assert (source.calls, target.calls) == ([], [("kill", "broker-2"), ("restart", "broker-2")])
    with pytest.raises(FaultRefused, match="target-s3 cannot replace here"):
        FaultSchedule([FaultSpec(action="replace", targets=("target-s3",), at_s=1)], union,
                      time.monotonic_ns, {}, [])
    with pytest.raises(FaultRefused, match="no process 'broker-2' on this cluster"):
        union.check("kill", "broker-2")


def test_a_fault_after_a_phase_waits_for_that_phase_and_then_for_its_time():
    specs = [FaultSpec(action="kill", targets=("broker-1",), at_s=0, duration_s=0,
                       after_phase="trial"),
             FaultSpec(action="kill", targets=("broker-3",), at_s=3600, duration_s=0)]
    processes = Processes()
    schedule = FaultSchedule(specs, processes, time.monotonic_ns, {}, [])
    record = RunRecord("r", time.monotonic_ns())
    record.enter("mirrored", time.monotonic_ns())
    schedule.trigger_after_phases(record, time.monotonic_ns())
    assert not any(f.started_ns for f in schedule.faults)   # its phase has not begun
    record.enter("trial", time.monotonic_ns())
    schedule.trigger_after_phases(record, time.monotonic_ns())
    while schedule.running:
        time.sleep(0.01)
    # the second counts from the mirror's start: an hour away
    assert processes.calls == [("kill", "broker-1")]
    [started] = [e for e in record.events if e["kind"] == "fault_start"]
    assert started["phase"] == "trial"
    schedule.finish(record)
    assert [f["trigger"] for f in record.faults] == ["at_s=0 after_phase=trial", "at_s=3600"]


def test_a_faults_window_holds_the_intervals_it_overlaps_and_the_one_after_it_ends():
    """Records a frozen broker held are acknowledged, and counted, just after it is back: the
    interval after the fault's end is its window's too, whatever the coordinator's timing."""
    from replaybench.engine.ticker import TICK_NS
    from replaybench.meters.snapshots import Snapshot
    schedule = FaultSchedule([FaultSpec(action="pause", targets=("broker-1",), at_s=0,
                                        duration_s=1)], Processes(), time.monotonic_ns, {}, [])
    [fault] = schedule.faults
    fault.thread = threading.Thread(target=lambda: None)
    fault.thread.start()
    fault.thread.join()
    t0 = 10 * TICK_NS
    fault.started_ns, fault.done_ns = t0 + TICK_NS // 2, t0 + 3 * TICK_NS + TICK_NS // 2
    record = RunRecord("r", t0)
    for i in range(-1, 7):   # intervals [t0 + i s, t0 + (i+1) s); the one at i acked i + 1
        start = t0 + i * TICK_NS
        schedule.watch(record, [Snapshot("producer", "p", start + TICK_NS,
                                         counters={"acked": i + 1})], start)
    window = record.phases[("fault-0", "producer")]
    # from the interval it started in (0) to the one after the one it ended in (3): 0..4
    assert window.counters["acked"] == sum(range(1, 6))


@pytest.mark.parametrize(("action", "duration", "waits"), [
    ("replace", 5.0, True),   # the replaced broker catches up: its end is the fault's figure
    ("kill", 0.0, False),     # killed for good: replication never heals, nothing to wait for
])
def test_a_run_waits_for_the_replication_a_fault_disturbed_to_heal(monkeypatch, action,
                                                                    duration, waits):
    """The drain waits on `replicated` (CI saw a replacement's catch-up outlast a loaded
    run: `under_replicated_cleared_ns` 0)."""
    from replaybench.clusters import health
    samples = iter([["t-0", "t-1"], ["t-0"], []])   # under-replicated, sample by sample
    monkeypatch.setattr(health, "admin", lambda *_a, **_k: object())
    monkeypatch.setattr(health, "under_replicated", lambda *_a, **_k: next(samples))
    schedule = FaultSchedule([FaultSpec(action=action, targets=("broker-2",), at_s=0,
                                        duration_s=duration)], Processes(), time.monotonic_ns,
                             {"bootstrap.servers": "x:1"}, ["t"])
    record = RunRecord("r", time.monotonic_ns())
    schedule.watch(record, [], 0)
    assert schedule.replicated   # no fault has begun: nothing disturbed
    schedule.trigger(record, 0, 0.0)
    schedule.faults[0].thread.join(10)
    seen = []
    for _ in range(3):
        schedule.watch(record, [], 0)
        seen.append(schedule.replicated)
    assert seen == ([False, False, True] if waits else [True, True, True])
