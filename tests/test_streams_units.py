"""The Kafka Streams engine's pure parts: judging the stores, and reading an instance's events
into its recovery (no JVM, no broker; the real application is in test_streams_real.py)."""

from __future__ import annotations

import numpy as np

from replaybench.roles.streams_instance import Recovery, StreamsInstance
from replaybench.verdicts.streams_verification import judge_streams, restore_partitions


def _rows(counts: dict[int, tuple[int, int]]) -> np.ndarray:
    """key -> (version, count) as store rows (key, version, count, intended)."""
    return np.array([[k, v, c, 0] for k, (v, c) in counts.items()], np.int64).reshape(-1, 4)


def _checks(verdict) -> dict[str, int]:
    return {c["check"]: c["observed"] for c in verdict.checks}


SEEDED = np.array([2, 1, 3], np.int64)                 # key k was seeded SEEDED[k] times
LIVE = np.array([[0, 1 << 32, 0, 10], [0, (1 << 32) + 1, 0, 11], [2, (1 << 32) + 2, 1, 5]])
RECOVERY = {"streams-0": [{"lost_ns": 100, "running_ns": 150, "restored_ns": 170,
                           "useful_ns": 170, "restored_records": 9}]}


def test_exact_stores_pass_and_time_runs_from_the_loss():
    rows = _rows({0: ((1 << 32) + 1, 4), 1: (1, 1), 2: ((1 << 32) + 2, 4)})
    verdict = judge_streams(rows, SEEDED, LIVE, RECOVERY, "exactly_once_v2")
    assert all(c["passed"] for c in verdict.checks)
    assert verdict.group_row["restore_time_ns"] == 70
    assert verdict.group_row["time_to_running_ns"] == 50


def test_a_lost_and_a_double_applied_update_are_told_apart():
    rows = _rows({0: ((1 << 32) + 1, 3), 1: (1, 1), 2: ((1 << 32) + 2, 5)})
    once = judge_streams(rows, SEEDED, LIVE, RECOVERY, "exactly_once_v2")
    assert (once.group_row["lost_updates"], once.group_row["double_applied_updates"]) == (1, 1)
    assert _checks(once)["lost_updates"] == 1 and _checks(once)["double_applied_updates"] == 1
    least = judge_streams(rows, SEEDED, LIVE, RECOVERY, "at_least_once")
    assert "double_applied_updates" not in _checks(least)   # reported in the row, not failed
    assert least.group_row["double_applied_updates"] == 1


def test_a_missing_key_and_a_wrong_version_fail():
    rows = _rows({0: (1 << 32, 4), 2: ((1 << 32) + 2, 4)})
    checks = _checks(judge_streams(rows, SEEDED, LIVE, RECOVERY, "at_least_once"))
    assert checks["missing_keys"] == 1 and checks["lost_updates"] == 1
    assert checks["wrong_version_keys"] == 1


def _instance(events: list[dict], lost_ns: int, own: bool) -> Recovery:
    inst = StreamsInstance.__new__(StreamsInstance)   # the event logic only, no JVM
    inst.recoveries, inst.history, inst.state = [Recovery(lost_ns, own_loss=own)], [], "RUNNING"
    inst._restored, inst._errors, inst._dumped = 0, [], None
    for e in events:
        inst._note(e)
    return inst.recoveries[-1]


def test_running_alone_is_not_useful_while_a_restore_is_pending():
    events = [{"e": "state", "t": 10, "new": "REBALANCING", "old": "CREATED"},
              {"e": "state", "t": 20, "new": "RUNNING", "old": "REBALANCING"},
              {"e": "restore_start", "t": 21, "partition": 3, "store": "s", "start": 0, "end": 9}]
    assert _instance(events, 5, own=True).useful_ns == 0
    done = events + [{"e": "restore_batch", "t": 25, "partition": 3, "records": 9, "offset": 9},
                     {"e": "restore_end", "t": 30, "partition": 3, "records": 9}]
    recovery = _instance(done, 5, own=True)
    assert (recovery.useful_ns, recovery.running_ns, recovery.restored_records) == (30, 20, 9)


def test_a_survivor_is_useful_after_the_rebalance_that_follows_the_loss():
    before = [{"e": "state", "t": 1, "new": "REBALANCING", "old": "RUNNING"},
              {"e": "state", "t": 2, "new": "RUNNING", "old": "REBALANCING"}]
    assert _instance(before, 5, own=False).useful_ns == 0       # that rebalance was earlier
    after = before + [{"e": "state", "t": 40, "new": "REBALANCING", "old": "RUNNING"},
                      {"e": "state", "t": 45, "new": "RUNNING", "old": "REBALANCING"}]
    assert _instance(after, 5, own=False).useful_ns == 45       # a standby: nothing to restore


def test_restore_rows_come_from_the_listener_after_the_loss():
    events = {"streams-1": [
        {"e": "restore_start", "t": 1, "partition": 0, "start": 0, "end": 5},   # before: seed
        {"e": "restore_end", "t": 2, "partition": 0, "records": 5},
        {"e": "restore_start", "t": 11, "partition": 4, "start": 7, "end": 107},
        {"e": "restore_end", "t": 31, "partition": 4, "records": 100}]}
    [row] = restore_partitions(events, {"streams-0": 10}, 32)
    assert (row["partition"], row["start_offset"], row["end_offset"]) == (4, 7, 107)
    assert (row["records"], row["bytes"], row["duration_ns"]) == (100, 3200, 20)


def test_a_streams_runs_restore_figures_leave_the_readers_side_by_side_out():
    from pathlib import Path

    from replaybench.results.runs import Run, per_run
    streams = {"group": 0, "mode": "streams", "started_ns": 0, "caught_up_ns": 4_000_000_000,
               "restore_time_ns": 4_000_000_000, "records": 8_000, "bytes": 256_000,
               "verdict": None}
    readers = {"group": 1, "mode": "replay", "started_ns": 10_000_000_000,
               "caught_up_ns": 10_500_000_000, "restore_time_ns": 500_000_000,
               "records": 8_000, "bytes": 256_000, "verdict": "host-bound"}
    run = Run(Path("x"), {}, groups=[streams, readers])
    assert per_run(run, "restore_time") == 4.0
    assert per_run(run, "restore_records_per_s") == 2_000
    replay_only = Run(Path("y"), {}, groups=[readers])
    assert per_run(replay_only, "restore_time") == 0.5
