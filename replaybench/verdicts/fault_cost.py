"""What a workload's faults cost its restore, over repeated pairs of runs: each pair a
reference run without the faults and the run with them, alternated, so that a machine that
slows down over time slows both sides alike. A pure judge over the pairs' restore times.

The cost is the median of the pairs' ratios (with / without), its interval the lowest and
highest ratio. It is conclusive only when at least MIN_PAIRS pairs agree on the side of 1.0:
every pair slower with the faults (or every pair not). On a shared 2-core machine single runs
of one workload differ by up to 30 % in restore time, so one pair says little.
"""

from __future__ import annotations

import statistics

MIN_PAIRS = 3


def judge(pairs: list[tuple[int, int]]) -> dict:
    """pairs: (restore ns with the faults, restore ns without), one per repetition; a pair
    with a run that did not catch up (0) is left out and counted."""
    ratios = [w / wo for w, wo in pairs if w and wo]
    out = {"pairs": len(pairs), "usable_pairs": len(ratios),
           "ratios": [round(r, 3) for r in ratios]}
    if not ratios:
        return {**out, "verdict": "no pair with both restores caught up"}
    median = statistics.median(ratios)
    out.update(median=round(median, 3), low=round(min(ratios), 3), high=round(max(ratios), 3))
    if len(ratios) < MIN_PAIRS:
        return {**out, "verdict": f"inconclusive: {len(ratios)} pair(s); --repeat "
                                  f"{MIN_PAIRS} or more for an interval"}
    if min(ratios) > 1.0:
        return {**out, "verdict": f"slower with the faults in every pair: {median:.2f}× "
                                  f"[{min(ratios):.2f}–{max(ratios):.2f}]"}
    if max(ratios) <= 1.0:
        return {**out, "verdict": f"no slower with the faults in any pair: {median:.2f}× "
                                  f"[{min(ratios):.2f}–{max(ratios):.2f}]"}
    return {**out, "verdict": f"inconclusive: the pairs straddle 1.0 ({min(ratios):.2f}–"
                              f"{max(ratios):.2f}×): the spread is too wide to conclude"}
