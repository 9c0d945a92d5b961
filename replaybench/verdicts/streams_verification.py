"""Judging a Kafka Streams restore: the application's stores against what the harness wrote,
and its restore events as per-partition rows. Pure functions; no Ray, no broker.

Every input update is one more applied update for its key, so each key's count must equal the
updates written (seeded + acknowledged live ones) and its version the last one written. A count
short is a lost update, a count over a double-applied one (at-least-once reprocessing after a
crash); exactly-once must have neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from replaybench.verdicts.restore_verification import check


@dataclass
class StreamsJudgement:
    group_row: dict
    checks: list[dict] = field(default_factory=list)


def judge_streams(rows: np.ndarray, seeded_counts: np.ndarray, live: np.ndarray,
                  recoveries: dict[str, list[dict]], guarantee: str) -> StreamsJudgement:
    """rows: the stores' (key, version, count, intended) rows; seeded_counts: per key, the
    updates the seed wrote (its versions count 1..n); live: acknowledged live updates as
    (key, version, partition, offset); recoveries: per lost instance, its recovery log."""
    n_keys = len(seeded_counts)
    want_count = seeded_counts.astype(np.int64) + np.bincount(live[:, 0], minlength=n_keys)[:n_keys]
    want_version = seeded_counts.astype(np.int64).copy()
    np.maximum.at(want_version, live[:, 0], live[:, 1])
    keys = rows[:, 0]
    known = (keys >= 0) & (keys < n_keys)
    got_count, got_version = np.zeros(n_keys, np.int64), np.zeros(n_keys, np.int64)
    got_count[keys[known]] = rows[known, 2]
    got_version[keys[known]] = rows[known, 1]
    lost = int(np.maximum(want_count - got_count, 0).sum())
    doubled = int(np.maximum(got_count - want_count, 0).sum())
    present = got_count > 0
    last = [r[-1] for r in recoveries.values() if r]
    useful = [r["useful_ns"] - r["lost_ns"] for r in last if r["useful_ns"]]
    running = [r["running_ns"] - r["lost_ns"] for r in last if r["running_ns"]]
    done = len(useful) == len(recoveries)
    row = {"mode": "streams", "engine": "kafka-streams",
           "caught_up_ns": max(r["useful_ns"] for r in last) if done and last else 0,
           "restore_time_ns": max(useful) if done and useful else 0,
           "time_to_running_ns": max(running) if len(running) == len(recoveries) else 0,
           "keys": int(present.sum()), "lost_updates": lost, "double_applied_updates": doubled,
           "processing_guarantee": guarantee}
    checks = [check("streams", name, 0, observed) for name, observed in (
        ("lost_updates", lost),
        ("missing_keys", int(((want_count > 0) & ~present).sum())),
        ("wrong_version_keys", int((present & (got_version != want_version)).sum())),
        ("unknown_keys", int((~known).sum())),
        ("duplicate_store_keys", len(keys) - len(np.unique(keys))))]
    if guarantee == "exactly_once_v2":   # at-least-once may re-apply: reported, not failed
        checks.append(check("streams", "double_applied_updates", 0, doubled))
    return StreamsJudgement(row, checks)


def restore_partitions(histories: dict[str, list[dict]], lost: dict[str, int],
                       record_bytes: int) -> list[dict]:
    """Per store partition restored after the first loss of state: which instance, from and to
    which changelog offsets, how many records and how long (from Kafka Streams' listener);
    `record_bytes`: the size of one changelog record (the listener counts records only)."""
    since = min(lost.values()) if lost else 0
    rows: list[dict] = []
    for name, events in histories.items():
        open_rows: dict[int, dict] = {}
        for e in events:
            if e["t"] < since:
                continue
            if e["e"] == "restore_start":
                open_rows[e["partition"]] = {
                    "group": 0, "reader": name, "partition": e["partition"],
                    "start_offset": e["start"], "end_offset": e["end"], "records": 0,
                    "bytes": 0, "started_ns": e["t"], "done_ns": 0, "duration_ns": 0}
                rows.append(open_rows[e["partition"]])
            elif e["e"] in ("restore_end", "restore_suspended") and e["partition"] in open_rows:
                row = open_rows.pop(e["partition"])
                row.update(records=e["records"], bytes=e["records"] * record_bytes,
                           done_ns=e["t"] if e["e"] == "restore_end" else 0,
                           duration_ns=e["t"] - row["started_ns"] if e["e"] == "restore_end"
                           else 0)
    return rows
