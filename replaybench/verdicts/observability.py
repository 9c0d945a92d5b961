"""Did the platform's own monitoring show what the harness knows happened? A pure judge over the
series Prometheus recorded (one point a second) and the run's own events:

- the restore: the brokers' bytes out rose to `rise` x their baseline median within
  `within_s` of the storm's start (a restore that the platform's dashboards do not show is an
  incident nobody can see); on a platform whose brokers serve no metrics but whose object
  store does (Tansu on S3), the object store's bytes sent, where the restore's reads land;
- each fault on a broker: that broker's absence (`up` 0) or under-replicated partitions showed
  within `within_s` of the fault's start, and had cleared by the end of the run.

Each check is a row: passed (None: not judged, with the reason), when it showed, how late.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Points = list[tuple[int, float]]   # (wall-clock ns, value), one a second


@dataclass(frozen=True)
class Limits:
    rise: float = 2.0        #: bytes out during the storm at least this x the baseline's
    within_s: float = 15.0   #: how late it may show: a 2 s scrape plus a 6 s rate, with margin


DEFAULT_LIMITS = Limits()


def judge_run(rows: list[dict], phases: dict[str, tuple[int, int]], faults: list[dict],
              ended_ns: int, limits: Limits = DEFAULT_LIMITS) -> list[dict]:
    """Every check of a run, from its stored series (platform_metrics rows: metric, server,
    t_ns, value), its phases' (start, end) and its fault rows: what the run judged, and what
    `rejudge` judges again."""
    checks = []
    if "storm" in phases and "baseline" in phases:
        metric = next((m for m in RESTORE_METRICS if any(r["metric"] == m for r in rows)),
                      "bytes_out_per_s")
        checks.append(restore_showed(_summed(rows, metric), phases["baseline"],
                                     phases["storm"], limits, RESTORE_METRICS[metric]))
    urp = _summed(rows, "under_replicated_partitions")
    for fault in faults:
        for target in filter(None, str(fault.get("target") or "").split(",")):
            if not _BROKER.search(target) or not fault.get("started_ns"):
                continue
            up = sorted((r["t_ns"], r["value"]) for r in rows
                        if r["metric"] == "up" and r["server"] == target)
            checks.append(fault_showed(f"fault {fault['drill']} {fault['action']} {target}", up,
                                       urp, fault["started_ns"], ended_ns, limits))
    return checks


#: a broker as faults name it: broker-2, or on a migration's side, target-broker-1
_BROKER = re.compile(r"(^|-)broker-\d+$")


def _summed(rows: list[dict], metric: str) -> Points:
    """A metric summed over the servers, per point in time."""
    total: dict[int, float] = {}
    for r in rows:
        if r["metric"] == metric:
            total[r["t_ns"]] = total.get(r["t_ns"], 0.0) + r["value"]
    return sorted(total.items())


#: what a restore's reads show in, best first: the series name -> how the check names it
RESTORE_METRICS = {"bytes_out_per_s": "bytes out",
                   "s3_bytes_sent_per_s": "the object store's bytes sent"}


def restore_showed(bytes_out: Points, baseline: tuple[int, int], storm: tuple[int, int],
                   limits: Limits = DEFAULT_LIMITS, shown_in: str = "bytes out") -> dict:
    """bytes_out: bytes per second summed over the servers (the brokers', or the object
    store's); `shown_in` names them."""
    row = {"check": f"restore showed in {shown_in}", "subject": "restore",
           "started_ns": storm[0]}
    if not bytes_out:
        return row | _unjudged("no bytes-out series: the platform serves no broker metrics")
    before = sorted(v for t, v in bytes_out if baseline[0] <= t <= baseline[1])
    if not before:
        return row | _unjudged("no bytes-out point in the baseline")
    reference = before[len(before) // 2]
    bar = max(reference * limits.rise, 1.0)
    seen = next((t for t, v in bytes_out if t >= storm[0] and v >= bar), None)
    detail = (f"baseline median {reference / 1e6:.2f} MB/s; bar {bar / 1e6:.2f} MB/s "
              f"({limits.rise:g}x)")
    return row | _timed(seen, storm[0], limits, detail)


def fault_showed(fault: str, up: Points, under_replicated: Points, started_ns: int,
                 run_end_ns: int, limits: Limits = DEFAULT_LIMITS) -> dict:
    """up: the faulted broker's scrape health (1 up, 0 down); under_replicated: the cluster's
    under-replicated partitions, summed over the brokers."""
    row = {"check": "fault showed in the platform's metrics", "subject": fault,
           "started_ns": started_ns}
    if not up and not under_replicated:
        return row | _unjudged(f"no series for {fault}: the platform serves no broker metrics")
    shows = sorted([t for t, v in up if t >= started_ns and v == 0] +
                   [t for t, v in under_replicated if t >= started_ns and v > 0])
    seen = shows[0] if shows else None
    last_up = up[-1][1] if up else 1.0
    last_urp = under_replicated[-1][1] if under_replicated else 0.0
    cleared = last_up == 1 and last_urp == 0
    row |= _timed(seen, started_ns, limits, "its absence (up 0) or under-replicated partitions")
    row["cleared"] = cleared
    if row["passed"] and not cleared:
        row.update(passed=False, reason=f"{row['reason']}; not cleared by the end of the run "
                                        f"(up {last_up:g}, under-replicated {last_urp:g})")
    return row


def _timed(seen: int | None, start: int, limits: Limits, detail: str) -> dict:
    if seen is None:
        return {"passed": False, "seen_ns": None, "delay_ns": None,
                "reason": f"never showed; {detail}"}
    delay = seen - start
    late = delay > limits.within_s * 1e9
    return {"passed": not late, "seen_ns": seen, "delay_ns": delay,
            "reason": f"showed {delay / 1e9:.1f} s after the start"
                      + (f", later than {limits.within_s:g} s" if late else "") + f"; {detail}"}


def _unjudged(reason: str) -> dict:
    return {"passed": None, "seen_ns": None, "delay_ns": None, "reason": reason}
