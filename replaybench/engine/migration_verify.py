"""The verify phase of a migration run: the ledger collected from the applications, each
mirrored copy scanned, the judge (verdicts/migration.py) run, and its rows, checks and
latency across each move put into the run record."""

from __future__ import annotations

import numpy as np

from replaybench.engine import topic_scan
from replaybench.engine.migration_schedule import MigrationSchedule, Move
from replaybench.engine.migration_traffic import MigrationTraffic
from replaybench.engine.run_state import RunState
from replaybench.format.histograms import LatencyHistogram
from replaybench.roles.kinds import Role
from replaybench.verdicts import migration as judge
from replaybench.verdicts import mirror_content


def verify(state: RunState, traffic: MigrationTraffic, schedule: MigrationSchedule) -> None:
    spec = state.spec
    traffic.finish()
    acked, delivered = traffic.acked_rows(), traffic.delivered_rows()
    steps = [_step(state, traffic, move) for move in schedule.moves]
    bound = spec.migration.cutover.max_duplicates
    if bound < 0:
        bound = spec.migration.mirror.offset_lag_max * spec.live.partitions * len(steps)
    rows, verdict = judge.judge(acked, delivered, spec.live.partitions, steps, bound)
    for move, total in zip(schedule.moves, [r for r in rows if r["partition"] == -1]):
        total.update(_windows(state, delivered, move), notes="; ".join(move.notes))
    state.record.migration.extend(rows)
    state.record.migration_verdict = {
        **verdict, "procedure": spec.migration.cutover.procedure,
        "steps": [m.name for m in schedule.moves],
        # commits the group's coordinator could not take then (a broker down): retried
        "commit_failures": state.total(Role.CONSUMER, "commit_failures")}
    _judge_content(state, schedule)
    state.record.verification.extend([
        {"scope": "migration", "check": "acknowledged records never delivered",
         "expected": 0, "observed": verdict["lost"], "passed": verdict["lost"] == 0},
        {"scope": "migration", "check": f"records delivered twice (at most {bound})",
         "expected": min(verdict["duplicates"], bound), "observed": verdict["duplicates"],
         "passed": verdict["duplicates"] <= bound}])


def _step(state: RunState, traffic: MigrationTraffic, move: Move) -> judge.Step:
    spec = state.spec
    copy = topic_scan.scan(move.to.config, move.to.read[move.to.copy_ix], spec.live.partitions,
                           spec.live.keys)
    return judge.Step(move.name, move.before, move.after, move.to.copy_ix, copy,
                      traffic.write_gap_ns(move.before, move.after),
                      move.ended_ns - move.began_ns if move.ended_ns else 0, move.resumed)


def _windows(state: RunState, delivered: np.ndarray, move: Move) -> dict:
    """How long the group read nothing across the move, and live latency across it (the
    move's phases and the phase after it) against the phase before."""
    before = delivered[delivered[:, 4] == move.before][:, 6]
    after = delivered[delivered[:, 4] == move.after][:, 6]
    out = {"read_unavailable_ns": int(after.min() - before.max())
           if len(before) and len(after) else None}
    # once producers stopped: how long the mirror took to copy the rest (0: not waited for)
    drain = state.record.phase_bounds.get(f"{move.name}-drain")
    out["mirror_drain_ns"] = drain[1] - drain[0] if drain and drain[1] else None
    reference = "mirrored"   # live traffic, mirrored, before anything moved
    across = [p for p in state.record.phase_bounds if p.startswith(f"{move.name}-")] + \
        ["trial" if move.name == "cutover" else "back"]
    for role, metric in (("consumer", "e2e"), ("producer", "ack_intended")):
        hist = LatencyHistogram()
        for phase in across:
            hist.add(state.record.latency(phase, role, metric))
        ref = state.record.latency(reference, role, metric)
        out[f"{role}_p99_ns"] = hist.percentile(99.0) if hist.count else None
        out[f"{role}_p99_9_ns"] = hist.percentile(99.9) if hist.count else None
        out[f"{role}_reference_p99_ns"] = ref.percentile(99.0) if ref.count else None
    return out


def _judge_content(state: RunState, schedule: MigrationSchedule) -> None:
    """The team's own topics and groups, mirrored beside the run's: judged from content."""
    m = state.spec.migration
    theirs = [(t, copy, n) for t, copy, n in schedule.forward.topics if t in m.existing_topics]
    rows: list[dict] = []
    for topic, copy, partitions in theirs:
        source = topic_scan.scan_hashes(schedule.source.config, topic, partitions)
        aborted = topic_scan.aborted_hashes(schedule.source.config, topic, partitions, source)
        copied = topic_scan.scan_hashes(schedule.target.config, copy, partitions)
        rows += mirror_content.judge_topic(topic, source, copied, aborted)
        for group in m.existing_groups:
            committed = schedule.source.offsets.committed(group, topic, partitions)
            synced = schedule.target.offsets.committed(group, copy, partitions)
            rows += mirror_content.judge_group(group, topic, committed, synced, source, copied)
    rows = [{**row, "step": "cutover"} for row in rows]
    state.record.mirror_content.extend(rows)
    state.record.verification.extend(content_checks(rows))


def content_checks(rows: list[dict]) -> list[dict]:
    """The checks on the team's own topics and groups, from their mirror_content rows."""
    checks = []
    for row in rows:
        # a copy made on the way back (a rollback's mirror) is told apart by its step
        back = f"{row['step']} " if row.get("step") not in (None, "cutover") else ""
        if row["kind"] == "topic":
            scope = f"{back}mirror {row['name']}-{row['partition']}"
            checks.append({"scope": scope, "check": "source records missing from the copy",
                           "expected": 0, "observed": row["missing"],
                           "passed": row["missing"] == 0})
            # a stored run judged before this count existed has none
            if (aborted := row.get("aborted_copied")) is not None:
                checks.append({"scope": scope, "check": "aborted transactions' records in the copy",
                               "expected": 0, "observed": aborted, "passed": aborted == 0})
        elif row["translation_error"] is not None:
            skipped = max(row["translation_error"], 0)
            checks.append({
                "scope": f"{back}group {row['name']}-{row['partition']}",
                "check": "records the synced offset skips", "expected": 0,
                "observed": skipped, "passed": skipped == 0})
        elif row["synced_offset"] is None and row["committed_offset"]:
            # committed on the source, nothing on the target: moved now, the group would
            # start where its reset policy says (skip everything, or read it all again)
            checks.append({
                "scope": f"{back}group {row['name']}-{row['partition']}",
                "check": "committed offset synced to the target", "expected": 1,
                "observed": 0, "passed": False})
    return checks


def verify_streams(state: RunState, traffic: MigrationTraffic, schedule) -> None:
    """A Kafka Streams application's move (schedule: streams_move_schedule.StreamsMoveSchedule):
    its stores against every acknowledged write, the copies it found at each move, and each
    move's figures (a move back: the state it had on the target was judged as it left)."""
    spec, record = state.spec, state.record
    traffic.finish()
    acked = traffic.acked_rows()
    row = schedule.app.judge(acked)
    schedule.judged[schedule.moves[-1].name] = (row["lost_updates"],
                                                row["double_applied_updates"])
    record.mirror_content.extend(schedule.content)
    record.verification.extend(content_checks(schedule.content))
    bound = spec.migration.cutover.max_duplicates
    if bound < 0:
        # at least once, the synced offsets may trail by up to offset.lag.max records a
        # partition at each move, each applied twice; an exactly-once application promises
        # none, and a rebuilt one starts from the copy's beginning
        exactly_once = spec.streams.processing_guarantee == "exactly_once_v2"
        bound = 0 if exactly_once or not schedule.mirrored_changelog else \
            spec.migration.mirror.offset_lag_max * spec.live.partitions * len(schedule.moves)
    errors = {move.name: [r["translation_error"] for r in schedule.content
                          if r["kind"] == "group" and r["step"] == move.name
                          and r["translation_error"] is not None] for move in schedule.moves}
    for move in schedule.moves:
        record.migration.append(_streams_step(state, traffic, schedule, move, acked,
                                              errors[move.name]))
    # the worst the application's state was at any point it was judged: on the target, and
    # (moved back) at the end
    lost = max(judged[0] for judged in schedule.judged.values())
    doubled = max(judged[1] for judged in schedule.judged.values())
    every = [e for step in errors.values() for e in step]
    record.migration_verdict = {
        "procedure": spec.migration.cutover.procedure,
        "steps": [move.name for move in schedule.moves],
        "application": "kafka-streams", "unit": "updates",
        "changelog": spec.migration.streams.changelog,
        "local_state": spec.migration.streams.local_state,
        "processing_guarantee": spec.streams.processing_guarantee,
        "lost": lost, "duplicates": doubled, "max_duplicates": bound,
        # the input records the synced offsets made it read again (each applied twice)
        "re_read": -sum(min(e, 0) for e in every), "skipped": sum(max(e, 0) for e in every),
        # stopped on the source -> useful on the target (RUNNING, restored, current); and
        # moved back, stopped on the target -> useful on the source again
        "downtime_ns": schedule.downtime_ns(schedule.move),
        "back_downtime_ns": schedule.downtime_ns(schedule.back) if schedule.back else None,
        "restored_records": row["records"],
        "kept_state": schedule.kept_state(),
        "passed": lost == 0 and doubled <= bound,
        "verdict": judge.verdict_of(lost, doubled, bound, "updates")}
    record.verification.append({
        "scope": "migration", "check": f"updates applied twice (at most {bound})",
        "expected": min(doubled, bound), "observed": doubled, "passed": doubled <= bound})
    if schedule.back is not None:   # what the judge of the end saw is already checked
        lost_there, _ = schedule.judged[schedule.move.name]
        record.verification.append({
            "scope": "migration", "check": "updates lost on the target (before the rollback)",
            "expected": 0, "observed": lost_there, "passed": lost_there == 0})


def _streams_step(state: RunState, traffic: MigrationTraffic, schedule, move: Move,
                  acked: np.ndarray, errors: list[int]) -> dict:
    """A move's total row: updates as compare and history read a migration's figures."""
    lost, doubled = schedule.judged[move.name]
    checkpoints = state.record.phase_bounds.get(f"{move.name}-checkpoints")
    return {
        "step": move.name, "partition": -1,
        "acked_before": int((acked[:, 3] == move.before).sum()),
        "acked_after": int((acked[:, 3] == move.after).sum()),
        "lost": lost, "duplicates": doubled,
        "translation_error": sum(errors) if errors else None,
        "write_unavailable_ns": traffic.write_gap_ns(move.before, move.after),
        "switch_ns": move.ended_ns - move.began_ns if move.ended_ns else 0,
        "mirror_drain_ns": checkpoints[1] - checkpoints[0]
        if checkpoints and checkpoints[1] else None,
        "notes": "; ".join(move.notes)}
