"""A metric over runs in time order, with steps called out: a run that moves from the median of
the previous runs by more than the threshold *and* by more than their own noise (3 x their
median absolute deviation), and lies outside their range. Runs with fewer than MIN_HISTORY
predecessors are shown but not judged."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from replaybench.results import runs as runs_mod
from replaybench.results.runs import Run


@dataclass(frozen=True)
class Point:
    run_id: str
    started: str
    value: float | None
    change_pct: float | None   #: against the median of the previous `window` runs
    step: str                  #: "", "regression", "improvement", or "unjudged" (see caveat)
    caveat: str = ""           #: why the run's own verdict keeps its value out of the judging


MIN_HISTORY = 3


def history(runs: list[Run], metric: str, window: int = 5, threshold: float = 0.10) -> list[Point]:
    points, seen = [], []
    for run in sorted(runs, key=lambda r: r.started_ns):
        v = runs_mod.per_run(run, metric)
        if (why := runs_mod.caveat(run, metric)) is not None:
            # shown, but neither judged nor a reference for the runs after it
            points.append(Point(run.manifest.get("run_id", run.path.name),
                                run.manifest.get("started") or "", v, None, "unjudged", why))
            continue
        previous = seen[-window:]
        change, step = None, ""
        if v is not None and previous:
            ref = statistics.median(previous)
            change = (v - ref) / ref if ref else None
            outside = v > max(previous) or v < min(previous)
            noise = 3 * statistics.median(abs(x - ref) for x in previous) / ref if ref else 0
            judged = len(previous) >= MIN_HISTORY and change is not None
            if judged and abs(change) > max(threshold, noise) and outside:
                worse = (v < ref) if runs_mod.higher_is_better(metric) else (v > ref)
                step = "regression" if worse else "improvement"
        if v is not None:
            seen.append(v)
        points.append(Point(run.manifest.get("run_id", run.path.name),
                            run.manifest.get("started") or "", v, change, step))
    return points
