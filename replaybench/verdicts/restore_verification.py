"""Judging a restore group: merge its readers' states and compare them with what was written.

Pure functions over the readers' RestoreResults, the seeder's expected state and (moving
target) the records appended to the changelog; no Ray, no broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from replaybench.format import core
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.format.restore_result import RestoreResult


@dataclass
class GroupJudgement:
    group_row: dict
    partition_rows: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)


def check(scope: str, name: str, expected: int, observed: int) -> dict:
    return {"scope": scope, "check": name, "expected": int(expected), "observed": int(observed),
            "passed": int(expected) == int(observed)}


def judge_group(index: int, started_ns: int, results: list[RestoreResult],
                expected_versions: np.ndarray, expected_live: np.ndarray,
                targets: dict[int, int], appended: np.ndarray) -> GroupJudgement:
    """`appended`: (key id, version, partition, offset) rows written to the changelog after the
    seed; those below each partition's final position must be in the state too."""
    n_parts = len(targets)
    state = core.StateTable(len(expected_versions), n_parts)
    ends = dict(targets)
    verdict = GroupJudgement({})
    for res in results:
        # Keys live in one partition and partitions in one reader, so the union is exact.
        np.maximum(state.versions, res.versions, out=state.versions)
        np.bitwise_or(state.live, res.live, out=state.live)
        for p, part in res.partitions.items():
            ends[p] = part.end_offset
            verdict.partition_rows.append(_partition_row(index, res.name, p, part))
    counters = {k: sum(r.counters[k] for r in results) for k in FOLD_COUNTERS}
    state.counters[:] = [counters[k] for k in FOLD_COUNTERS]
    exp_versions, exp_live = expected_versions.copy(), expected_live.copy()
    if len(appended):
        upto = np.array([ends[p] for p in range(n_parts)], np.int64)
        seen = appended[appended[:, 3] < upto[appended[:, 2]]]
        np.maximum.at(exp_versions, seen[:, 0], seen[:, 1])
        exp_live[seen[:, 0]] = 1
    v = core.verify(exp_versions, exp_live, state)
    verdict.group_row = _group_row(index, started_ns, results, counters, sum(ends.values())) | {
        "mode": "verify", "engine": "readers"}
    scope = f"group-{index}"
    verdict.checks = [check(scope, *c) for c in (
        ("live_keys", v.keys_expected, v.keys_expected - v.missing),
        ("missing_keys", 0, v.missing), ("wrong_version_keys", 0, v.wrong_version),
        ("not_deleted_keys", 0, v.not_deleted), ("corrupt_records", 0, v.corrupt_records),
        ("regressions", 0, v.regressions),
        ("records_read_vs_offsets", sum(ends.values()), counters["records"]))]
    return verdict


def judge_replay(index: int, started_ns: int, results: list[RestoreResult],
                 targets: dict[int, int], log_starts: dict[int, int]) -> GroupJudgement:
    """A read-only replay of a topic replaybench did not write: no state to compare, so its
    figures are held to the broker's offsets. Every offset from the log start (at storm start)
    to the end offset is either a record read or one with no record, and the core counted the
    latter itself: gaps between records (compacted away, aborted under read_committed) and
    before the end of partition (transaction markers). Records before the first one read were
    removed by retention or delete-records after the log start was taken."""
    verdict = GroupJudgement({})
    skipped_before = 0
    for res in results:
        for p, part in res.partitions.items():
            start = log_starts.get(p, 0)
            span = max(part.end_offset - start, 0)
            skipped_before += max(part.first_offset - start, 0) if part.first_offset >= 0 else span
            verdict.partition_rows.append(_partition_row(index, res.name, p, part) | {
                "log_start_offset": start, "keys": part.keys, "dead_keys": part.dead_keys,
                "offsets_without_record": span - part.records})
    counters = {k: sum(r.counters[k] for r in results) for k in results[0].counters}
    span = sum(max(end - log_starts.get(p, 0), 0) for p, end in targets.items())
    verdict.group_row = _group_row(index, started_ns, results, counters, span) | {
        "mode": "replay", "engine": "readers", "keys": counters["distinct_keys"],
        "dead_keys": counters["dead_keys"]}
    reached = sum(part.done_ns > 0 for r in results for part in r.partitions.values())
    scope = f"group-{index}"
    verdict.checks = [check(scope, *c) for c in (
        ("partitions_at_end_offset", len(targets), reached),
        ("offsets_read_or_skipped", span,
         counters["records"] + counters["gap_offsets"] + skipped_before),
        ("rewinds", 0, counters["rewinds"]), ("errors", 0, counters["errors"]))]
    return verdict


def _partition_row(index: int, reader: str, p: int, part) -> dict:
    return {"group": index, "reader": reader, "partition": p,
            "start_offset": part.first_offset if part.first_offset >= 0 else part.start_offset,
            "end_offset": part.end_offset, "records": part.records, "bytes": part.bytes,
            "started_ns": part.started_ns, "done_ns": part.done_ns,
            "duration_ns": part.done_ns - part.started_ns if part.done_ns else 0}


def _group_row(index: int, started_ns: int, results: list[RestoreResult], counters: dict,
               target_records: int) -> dict:
    caught_up = max(r.caught_up_ns for r in results) if all(r.caught_up_ns for r in results) else 0
    return {"group": index, "readers": len(results), "started_ns": started_ns,
            "caught_up_ns": caught_up, "restore_time_ns": caught_up - started_ns if caught_up else 0,
            "records": counters["records"], "bytes": counters["bytes"],
            "target_records": target_records,
            "reader_client": ",".join(sorted({r.client for r in results}))}


_CORRUPT = ("truncated", "bad_magic", "bad_version", "bad_checksum", "bad_key", "key_out_of_range")


def judge_live(acked: int, appended_offsets: int, acked_offset_rewinds: int,
               consumed: dict[str, int], consumer_totals: dict[str, int]) -> list[dict]:
    """Live traffic's checks: every acknowledged record is in the log (`appended_offsets`: the
    live topic's end offsets minus what the seed wrote there), no acknowledged offset was handed
    out again, and each consumer (`consumed`: name -> records) read each record once, intact
    (`consumer_totals`: the consumers' counters summed)."""
    checks = [check("live", "acked_records_vs_offsets", appended_offsets, acked),
              check("live", "acked_offset_rewinds", 0, acked_offset_rewinds)]
    checks += [check("live", f"{name}_records", acked, n) for name, n in consumed.items()]
    checks += [check("live", f"consumed_{counter}", 0, consumer_totals.get(counter, 0))
               for counter in ("duplicates", "regressions") + _CORRUPT]
    return checks
