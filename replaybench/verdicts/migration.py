"""Was a cutover (or a rollback) safe? A pure judge over the ledger of record ids the harness
wrote and read, never over the mirror's own figures.

A record's id is (key id, version): each producer owns its keys and each write raises the
key's version, so the id is unique across clusters and legs. A *leg* is the time the
applications spent on one cluster: 0 on the source, 1 on the target, 2 back on the source after
a rollback. A *step* moves them from one leg to the next.

Per partition and in total:
- lost: acknowledged and never delivered to the group; a step answers for the records
  acknowledged in the leg before it (the last step also for those of the leg after it);
- duplicates: deliveries beyond the first of the same record; a step answers for those made in
  the leg after it;
- translation error, per step: the offset the group started at on the new cluster minus the
  true next offset there (the offset, in the mirrored copy, of the record after the last one it
  had read before the step): positive skipped records, negative re-read them;
- mirror missing: records acknowledged before the step that its mirrored copy lacks;
- mirror duplicates: records the copy holds more than once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_VERSION_BITS = 40


@dataclass(frozen=True)
class Step:
    """One move: from leg `before` to leg `after`; the mirrored copy the group resumed in is
    topic index `mirrored_topic` of its subscription in leg `after`, whose content (key id,
    version, partition, offset rows) is `copy` (None: not scanned)."""
    name: str
    before: int
    after: int
    mirrored_topic: int
    copy: np.ndarray | None
    write_gap_ns: int            #: last acknowledgement before the step -> first after
    switch_ns: int               #: the step's phases, first to last
    #: the group's committed offset per partition on the copy as it joined (-1 or absent: none,
    #: its reset policy decided, and the first offset it read there says where it resumed)
    committed: dict[int, int] | None = None


def ids(key_id: np.ndarray, version: np.ndarray) -> np.ndarray:
    return (key_id.astype(np.int64) << _VERSION_BITS) | (version & ((1 << _VERSION_BITS) - 1))


def judge(acked: np.ndarray, delivered: np.ndarray, partitions: int, steps: list[Step],
          max_duplicates: int) -> tuple[list[dict], dict]:
    """acked: (key id, version, partition, leg) per acknowledged record; delivered: the group's
    ledger (roles/group_consumer.LEDGER_COLUMNS). Returns the migration table's rows (one per
    step and partition, partition -1 the total) and the verdict."""
    acked_ids, got_ids = ids(acked[:, 0], acked[:, 1]), ids(delivered[:, 0], delivered[:, 1])
    lost_mask = ~np.isin(acked_ids, got_ids)
    repeat = np.ones(len(got_ids), bool)
    repeat[np.unique(got_ids, return_index=True)[1]] = False
    rows = []
    for i, step in enumerate(steps):
        legs = [step.before, step.after] if i == len(steps) - 1 else [step.before]
        rows.extend(_step_rows(step, acked, acked_ids, delivered, lost_mask & np.isin(
            acked[:, 3], legs), repeat & (delivered[:, 4] == step.after), partitions))
    # the steps answer for the re-reads after them; those before any step are the
    # application's own (its group's first rebalances), reported apart
    lost = int(lost_mask.sum())
    duplicates = int(sum(r["duplicates"] for r in rows if r["partition"] == -1))
    verdict = {"lost": lost, "duplicates": duplicates, "acked": int(len(acked_ids)),
               "delivered": int(len(got_ids)), "max_duplicates": max_duplicates,
               "duplicates_before_any_move": int((repeat & np.isin(
                   delivered[:, 4], [s.before for s in steps[:1]])).sum()),
               "passed": lost == 0 and duplicates <= max_duplicates,
               "verdict": verdict_of(lost, duplicates, max_duplicates)}
    return rows, verdict


#: what a migration's ledger counts: records a consumer group was handed, or updates a Kafka
#: Streams application applied to its state; (lost, doubled) as the verdict words them
UNITS = {"records": ("acknowledged records never delivered", "records delivered twice",
                     "delivered twice"),
         "updates": ("acknowledged updates missing from the state", "updates applied twice",
                     "applied twice")}


def verdict_of(lost: int, duplicates: int, bound: int, unit: str = "records") -> str:
    never, twice, short = UNITS[unit]
    if lost:
        return f"NO-GO: {lost} {never}"
    if duplicates > bound:
        return f"NO-GO: {duplicates} {twice}, more than the procedure's {bound}"
    return f"GO: nothing lost, {duplicates} {short} (bound {bound})"


def _step_rows(step: Step, acked, acked_ids, delivered, lost, repeated,
               partitions: int) -> list[dict]:
    """lost: the acknowledged records this step answers for that were never delivered;
    repeated: the deliveries it answers for that delivered a record again."""
    rows = []
    for p in range(partitions):
        in_p, got_p = acked[:, 2] == p, delivered[:, 2] == p
        rows.append({"step": step.name, "partition": p,
                     "acked_before": int((in_p & (acked[:, 3] == step.before)).sum()),
                     "acked_after": int((in_p & (acked[:, 3] == step.after)).sum()),
                     "delivered_after": int((got_p & (delivered[:, 4] == step.after)).sum()),
                     "lost": int((in_p & lost).sum()),
                     "duplicates": int((got_p & repeated).sum()),
                     **_translation(step, delivered, p),
                     "mirror_missing": _mirror_missing(step, acked, acked_ids, p),
                     "mirror_duplicates": _mirror_duplicates(step, p)})
    rows.append(_total(step, rows))
    return rows


def _translation(step: Step, delivered: np.ndarray, p: int) -> dict:
    """Where the group resumed in partition p after the step, against where it should have."""
    out = {"resumed_offset": None, "true_offset": None, "translation_error": None}
    after = delivered[(delivered[:, 4] == step.after) & (delivered[:, 2] == p)
                      & (delivered[:, 5] == step.mirrored_topic)]
    committed = (step.committed or {}).get(p, -1)
    if committed >= 0:
        out["resumed_offset"] = committed
    elif len(after):
        out["resumed_offset"] = int(after[:, 3].min())
    if step.copy is None:
        return out
    copy = step.copy[step.copy[:, 2] == p]
    before = delivered[(delivered[:, 4] == step.before) & (delivered[:, 2] == p)]
    if len(before):
        last = before[np.argmax(before[:, 3])]
        where = copy[(copy[:, 0] == last[0]) & (copy[:, 1] == last[1])]
        out["true_offset"] = int(where[0, 3]) + 1 if len(where) else None
    else:
        out["true_offset"] = int(copy[:, 3].min()) if len(copy) else None
    if out["resumed_offset"] is not None and out["true_offset"] is not None:
        out["translation_error"] = out["resumed_offset"] - out["true_offset"]
    return out


def _mirror_missing(step: Step, acked, acked_ids, p: int) -> int | None:
    if step.copy is None:
        return None
    mine = (acked[:, 2] == p) & (acked[:, 3] == step.before)
    copied = ids(step.copy[:, 0], step.copy[:, 1])
    return int((~np.isin(acked_ids[mine], copied)).sum())


def _mirror_duplicates(step: Step, p: int) -> int | None:
    """Records the copy holds more than once (a mirror task that restarted copies again from
    its last committed position)."""
    if step.copy is None:
        return None
    mine = step.copy[step.copy[:, 2] == p]
    return int(len(mine) - np.unique(ids(mine[:, 0], mine[:, 1])).size)


def _total(step: Step, rows: list[dict]) -> dict:
    total = {"step": step.name, "partition": -1, "write_unavailable_ns": step.write_gap_ns,
             "switch_ns": step.switch_ns}
    for key in ("acked_before", "acked_after", "delivered_after", "lost", "duplicates",
                "mirror_missing", "mirror_duplicates", "translation_error"):
        values = [r[key] for r in rows if r[key] is not None]
        total[key] = sum(values) if values else None
    return total
