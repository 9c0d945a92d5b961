"""Was a team's own topic copied, and its consumer groups translated, right? A pure judge over
content, for topics replaybench did not write (no ledger of ids): each partition's records in
offset order as hashes of key and value, on the source and in the copy.

- topic rows: the copy holds every record of the source, in the same order (`in_order`), or
  how many it lacks (`missing`) and holds beyond them: records of transactions the source
  aborted (`aborted_copied`: a read_committed reader of the source never sees them, one of the
  copy takes them for real, a Kafka Streams restore among them) and the rest (`extra`:
  duplicates, or records the source no longer has);
- group rows: where the group's committed offset on the source points (the next record it
  would read), where that record sits in the copy (`expected_offset`), and where the mirror put
  the group on the target (`synced_offset`): `translation_error` = synced - expected, positive
  skips records, negative reads them again.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

Partitions = dict[int, tuple[list[int], list[bytes]]]   #: partition -> (offsets, hashes)


def judge_topic(topic: str, source: Partitions, copy: Partitions,
                aborted: Partitions | None = None) -> list[dict]:
    """source: its committed records; aborted: the records of its aborted transactions."""
    rows = []
    for p in sorted(source):
        want, have = source[p][1], copy.get(p, ([], []))[1]
        lacking = Counter(want) - Counter(have)
        beyond = Counter(have) - Counter(want)
        dropped = (aborted or {}).get(p, ([], []))[1]
        copied_aborted = sum((beyond & Counter(dropped)).values())
        rows.append({"kind": "topic", "name": topic, "partition": p,
                     "source_records": len(want), "copied_records": len(have),
                     "missing": sum(lacking.values()),
                     "extra": sum(beyond.values()) - copied_aborted,
                     "source_aborted": len(dropped), "aborted_copied": copied_aborted,
                     "in_order": have == want})
    return rows


def judge_group(group: str, topic: str, committed: dict[int, int],
                synced: dict[int, int], source: Partitions, copy: Partitions) -> list[dict]:
    """committed: the group's offsets on the source (-1: none); synced: on the copy."""
    rows = []
    for p, offset in sorted(committed.items()):
        if offset < 0:
            continue
        offsets, hashes = source.get(p, ([], []))
        copy_offsets, copy_hashes = copy.get(p, ([], []))
        expected = _expected(bisect_left(offsets, offset), hashes, copy_offsets, copy_hashes)
        got = synced.get(p, -1)
        rows.append({"kind": "group", "name": f"{group}/{topic}", "partition": p,
                     "committed_offset": offset, "expected_offset": expected,
                     "synced_offset": got if got >= 0 else None,
                     "translation_error": got - expected
                     if got >= 0 and expected is not None else None})
    return rows


def _expected(index: int, hashes: list[bytes], copy_offsets: list[int],
              copy_hashes: list[bytes]) -> int | None:
    """The copy's offset of the source's record number `index` (the next to read): found by
    content, the n-th occurrence of its hash; past the end: the copy's end."""
    if index >= len(hashes):
        return copy_offsets[-1] + 1 if copy_offsets else 0
    wanted, nth = hashes[index], hashes[:index].count(hashes[index])
    seen = 0
    for offset, h in zip(copy_offsets, copy_hashes):
        if h == wanted:
            if seen == nth:
                return offset
            seen += 1
    return None   # the copy lacks it
