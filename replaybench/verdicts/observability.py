"""Did the platform's own monitoring show what the harness knows happened? A pure judge over the
series Prometheus recorded (one point a second) and the run's own events:

- the restore: the brokers' bytes out rose to `rise` x their baseline median within
  `within_s` of the storm's start (a restore that the platform's dashboards do not show is an
  incident nobody can see); on a platform whose brokers serve no metrics but whose object
  store does (Tansu on S3), the object store's bytes sent, where the restore's reads land;
- each fault on a broker: that broker's absence (`up` 0) or under-replicated partitions showed
  within `within_s` of the fault's start, and had cleared by the end of the run (on a
  migration's mirror, its absence, and its scrape answering again after); and an alert
  (the rules of engine/alert_rules.yaml, or the team's own) fired within `alert_within_s`:
  would it have woken someone, and how late;
- the live consumers' lag as a lag exporter showed it (committed offsets against end offsets)
  against their true lag (end offsets against the position they have taken), tick by tick: the
  error, in records and in seconds of live traffic, and, when the consumers fell behind, how
  late the exporter showed it.

Each check is a row: passed (None: not judged, with the reason), when it showed, how late.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

Points = list[tuple[int, float]]   # (wall-clock ns, value), one a second


@dataclass(frozen=True)
class Limits:
    rise: float = 2.0        #: bytes out during the storm at least this x the baseline's
    within_s: float = 15.0   #: how late it may show: a 2 s scrape plus a 10 s rate, with margin
    #: the exporter's lag may differ from the true lag by this many seconds of live traffic
    #: (p95): a group committing every 5 s reads up to 5 s behind, plus a 2 s scrape
    lag_error_s: float = 10.0
    #: the consumers' true lag must peak at this many seconds of traffic for a delay to be
    #: measured (below it, the committed offsets' own staleness hides any rise)
    lag_rise_s: float = 10.0
    #: the share of ticks the exporter may show nothing for (a scrape it could not answer):
    #: beyond it, a dashboard blind to the group for that long
    lag_missing_share: float = 0.25
    alert_within_s: float = 120.0   #: an alert for a fault: a 30 s `for:` plus the outage's own


DEFAULT_LIMITS = Limits()


def judge_run(rows: list[dict], phases: dict[str, tuple[int, int]], faults: list[dict],
              ended_ns: int, limits: Limits = DEFAULT_LIMITS, ticks: list[dict] = (),
              asked: Collection[str] = (), events: list[dict] = ()) -> list[dict]:
    """Every check of a run, from its stored series (platform_metrics rows: metric, server,
    labels, t_ns, value), its phases' (start, end), its fault rows and its own ticks
    (timeseries rows: role, t_ns, lag_records, records_per_s): what the run judged, and what
    `rejudge` judges again. asked: the queries Prometheus was asked; the alerts and the lag
    are judged only when their queries were (no row of a query asked means nothing showed).
    events: the run's (the live consumers' group; a migration's consumers move between
    clusters, their lag read from the exporter of the cluster they read at the time; a
    mirror's stop, where its series end by design)."""
    checks = []
    if "storm" in phases and "baseline" in phases:
        metric = next((m for m in RESTORE_METRICS if any(r["metric"] == m for r in rows)),
                      "bytes_out_per_s")
        checks.append(restore_showed(_summed(rows, metric), phases["baseline"],
                                     phases["storm"], limits, RESTORE_METRICS[metric]))
    urp = _summed(rows, "under_replicated_partitions")
    for fault in faults:
        for target in filter(None, str(fault.get("target") or "").split(",")):
            if _WATCHED.search(target) and fault.get("started_ns"):
                checks += _fault_checks(rows, urp, fault, target, ended_ns, limits, asked,
                                        events)
    if LAG_QUERY in asked and any(t["role"] == "consumer" for t in ticks):
        checks.append(_consumers_lag(rows, ticks, events, limits))
    return checks


def _fault_checks(rows: list[dict], urp: Points, fault: dict, target: str, ended_ns: int,
                  limits: Limits, asked: Collection[str], events: list[dict]) -> list[dict]:
    """Whether a fault on `target` (a broker, or a migration's mirror) showed, and its alert."""
    # a mirror stopped by the schedule: its scrape ends there, by design (Prometheus may look
    # a few seconds more before it drops the target)
    until = next((t for server, t in _stopped(events)
                  if server == target and t >= fault["started_ns"]), None)
    up = sorted((r["t_ns"], r["value"]) for r in rows
                if r["metric"] == "up" and r["server"] == target
                and (until is None or r["t_ns"] <= until))
    broker = _BROKER.search(target) is not None
    if not broker and not up:
        # a mirror nobody scraped (a team's Prometheus, or a run stored before the mirrors
        # were): nothing to judge, as runs stored then were judged
        return []
    name = f"fault {fault['drill']} {fault['action']} {target}"
    # a mirror replicates no partition of its own: only its absence can show
    shown = fault_showed(name, up, urp if broker else [], fault["started_ns"], ended_ns, limits)
    if ALERTS_QUERY not in asked:
        return [shown]
    # no series of the server, nothing for its alert to read
    alert = alert_fired(name, _alerts(rows), fault["started_ns"], limits) \
        if shown["passed"] is not None else \
        {**shown, "check": ALERT_CHECK, "subject": f"{name}: alert"}
    return [shown, alert]


def _consumers_lag(rows: list[dict], ticks: list[dict], events: list[dict],
                   limits: Limits) -> dict:
    """The live consumers' group on one cluster; a migration's moved group, read on the
    cluster its consumers read at each tick (ticks while they move are left out)."""
    truth = _role(ticks, "consumer", "lag_records")
    rate = _median(_role(ticks, "producer", "records_per_s"))
    moves = sorted((e for e in events if e["kind"] in _MOVES), key=lambda e: e["t_ns"])
    if not moves:
        # this run's group, as its event names it (a run stored before: any tail group)
        mine = next((json.loads(e["detail"])["group"] for e in events
                     if e["kind"] == "live_group"), None)
        return lag_tracked(_group_lag(rows, (lambda g: g == mine) if mine else
                                      (lambda g: g.startswith(TAIL_GROUP))), truth, rate, limits)
    group = next((json.loads(e["detail"]).get("group") for e in moves
                  if e["kind"] == "consumers_joined"), None)
    if group is None:   # stored before the events named it
        return {"check": "consumer lag as the platform showed it", "subject": MOVED,
                **_unjudged("the run's events do not name the moved group")}
    spans = [(0, f"source-{LAG_EXPORTER}")] + [
        (e["t_ns"], None if e["kind"] == "consumers_left" else
         f"{'target' if json.loads(e['detail'])['leg'] % 2 else 'source'}-{LAG_EXPORTER}")
        for e in moves]
    platform = _group_lag(rows, lambda g: g == group, lambda server, t: server == _on(spans, t))
    return lag_tracked(platform, [(t, v) for t, v in truth if _on(spans, t)], rate, limits,
                       MOVED)


def _stopped(events: list[dict]) -> list[tuple[str, int]]:
    """(server, when) of each mirror the schedule stopped, in time order."""
    return sorted(((json.loads(e["detail"]).get("server", ""), e["t_ns"]) for e in events
                   if e["kind"] == "mirror_stopped"), key=lambda stop: stop[1])


_MOVES = ("consumers_left", "consumers_joined")   #: a migration's consumers, as events say
MOVED = "the moved group's lag"
LAG_EXPORTER = "lag-exporter"   #: a migration's: source-lag-exporter, target-lag-exporter


def _on(spans: list[tuple[int, str | None]], t_ns: int) -> str | None:
    """The exporter of the cluster the consumers read at t_ns (None: between clusters)."""
    return next((server for start, server in reversed(spans) if start <= t_ns), None)


#: a broker as faults name it: broker-2, or on a migration's side, target-broker-1
_BROKER = re.compile(r"(^|-)broker-\d+$")
#: what a fault's showing is judged for: a broker, or a migration's mirror (mirror,
#: reverse-mirror), scraped while it runs
_WATCHED = re.compile(r"(^|-)(broker-\d+|mirror)$")


ALERTS_QUERY = "alerts_firing"   #: the query whose rows are the alerts that fired
ALERT_CHECK = "an alert fired for the fault"
LAG_QUERY = "consumer_group_lag"   #: the lag exporter's lag, per server and consumergroup

#: the live consumers' group (roles/tail_consumer.py), as the lag exporter names it
TAIL_GROUP = "replaybench-tail-"


def _group_lag(rows: list[dict], group: Callable[[str], bool],
               where: Callable[[str, int], bool] = lambda server, t: True) -> Points:
    """The exporter's lag of the groups `group` takes, summed, per point in time; `where`:
    which server's points (by time) count."""
    return _summed(rows, LAG_QUERY, lambda r: where(r.get("server", ""), r["t_ns"]) and group(
        json.loads(r.get("labels") or "{}").get("consumergroup", "")))


def first_fired(rows: list[dict]) -> dict[tuple[str, str], int]:
    """Each alert that fired, as (its name, the server it names or "") -> when it first
    fired (wall-clock ns): what the checks and the report's markers read."""
    first: dict[tuple[str, str], int] = {}
    for r in rows:
        if r["metric"] == ALERTS_QUERY and r["value"] > 0:
            key = (json.loads(r.get("labels") or "{}").get("alertname", "?"), r.get("server") or "")
            first[key] = min(first.get(key, r["t_ns"]), r["t_ns"])
    return first


def _alerts(rows: list[dict]) -> dict[str, int]:
    """Each alert that fired, named with the server it names -> when it first fired."""
    return {name + (f" ({server})" if server else ""): t
            for (name, server), t in first_fired(rows).items()}


def _role(ticks: list[dict], role: str, column: str) -> Points:
    return sorted((t["t_ns"], float(t[column] or 0)) for t in ticks if t["role"] == role)


def _median(points: Points) -> float:
    values = sorted(v for _, v in points)
    return values[len(values) // 2] if values else 0.0


def _summed(rows: list[dict], metric: str,
            keep: Callable[[dict], bool] = lambda row: True) -> Points:
    """A metric summed over the servers (the rows `keep` takes), per point in time."""
    total: dict[int, float] = {}
    for r in rows:
        if r["metric"] == metric and keep(r):
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
    """up: the faulted server's scrape health (1 up, 0 down); under_replicated: the cluster's
    under-replicated partitions, summed over the brokers (none for a mirror)."""
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


def alert_fired(fault: str, first_fired: dict[str, int], started_ns: int,
                limits: Limits = DEFAULT_LIMITS) -> dict:
    """first_fired: each alert -> when it first fired. An alert already firing before the
    fault does not count: it would not have told anyone about this one."""
    row = {"check": ALERT_CHECK, "subject": f"{fault}: alert",
           "started_ns": started_ns}
    after = sorted((t, name) for name, t in first_fired.items() if t >= started_ns)
    if not after:
        return row | {"passed": False, "seen_ns": None, "delay_ns": None,
                      "reason": "no alert fired: it would have woken nobody"}
    seen, name = after[0]
    delay = seen - started_ns
    late = delay > limits.alert_within_s * 1e9
    return row | {"passed": not late, "seen_ns": seen, "delay_ns": delay,
                  "reason": f"{name} fired {delay / 1e9:.1f} s after the start"
                            + (f", later than {limits.alert_within_s:g} s" if late else "")
                            + "".join(f"; then {n} at {(t - started_ns) / 1e9:+.1f} s"
                                      for t, n in after[1:4])}


def lag_tracked(platform: Points, truth: Points, rate: float,
                limits: Limits = DEFAULT_LIMITS, subject: str = "live consumers' lag") -> dict:
    """platform: the lag exporter's lag of the live consumers' group, summed over its
    partitions, one point a second; truth: the consumers' own lag at each tick (records);
    rate: live records per second, to say the error in seconds of traffic.

    The delay: from the true lag first reaching half its peak to the exporter's doing so
    (timed only when the peak is `lag_rise_s` of traffic or more). The error: exporter - truth
    at each tick, the exporter read that delay later, so that a late exporter is judged on
    its delay and a wrong one on its error."""
    row = {"check": "consumer lag as the platform showed it", "subject": subject}
    if not truth or rate <= 0:
        return row | _unjudged("no live consumers or no live traffic to compare with")
    row["started_ns"] = truth[0][0]
    if not platform:
        return row | {"passed": False, "seen_ns": None, "delay_ns": None,
                      "reason": "the lag exporter never showed the consumers' group "
                                "(committed offsets the platform does not serve?)"}
    timing, detail = _lag_delay(platform, truth, rate, limits)
    never = timing.pop("timed") and timing["seen_ns"] is None
    shift = max(timing["delay_ns"] or 0, 0)
    errors = sorted(abs(p - v) for t, v in truth if (p := _at(platform, t + shift)) is not None)
    if not errors:
        return row | _unjudged("no exporter point within 3 s of a tick")
    p50, p95 = errors[len(errors) // 2], errors[min(int(len(errors) * 0.95), len(errors) - 1)]
    row |= timing | {"error_p95_records": int(p95), "error_p95_s": p95 / rate}
    off = p95 > limits.lag_error_s * rate
    late = timing["delay_ns"] is not None and timing["delay_ns"] > limits.within_s * 1e9
    missing, shown = _missing(platform, truth, shift)
    blind = missing > limits.lag_missing_share * shown
    return row | {"passed": not (off or late or never or blind), "reason": (
        f"error p50 {p50:,.0f} records ({p50 / rate:.1f} s of traffic), p95 {p95:,.0f} "
        f"({p95 / rate:.1f} s) at {rate:,.0f} records/s; {detail}"
        + (f"; more than {limits.lag_error_s:g} s of traffic off" if off else "")
        + (f"; the exporter showed nothing for {missing} of {shown} ticks" if blind
           else ""))}


def _missing(platform: Points, truth: Points, shift: int) -> tuple[int, int]:
    """The ticks the exporter showed nothing for, of those from its first point on (a group
    shows once it has committed: 5 s after its consumers start)."""
    after = [t for t, _ in truth if t >= platform[0][0]]
    return sum(_at(platform, t + shift) is None for t in after), len(after)


def _lag_delay(platform: Points, truth: Points, rate: float,
               limits: Limits) -> tuple[dict, str]:
    """When the exporter showed the true lag's rise (seen_ns, delay_ns; timed: False when the
    consumers never fell far enough behind to time it), and what it says."""
    peak = max(v for _, v in truth)
    if peak < limits.lag_rise_s * rate:
        return {"seen_ns": None, "delay_ns": None, "timed": False}, (
            f"the true lag peaked at {peak:,.0f} records ({peak / rate:.1f} s of traffic), "
            f"under the {limits.lag_rise_s:g} s it takes to time the exporter")
    rose = next(t for t, v in truth if v >= peak / 2)
    timed = _timed(next((t for t, v in platform if t >= rose and v >= peak / 2), None), rose,
                   limits, f"the true lag reached half its peak of {peak:,.0f} records")
    return {"seen_ns": timed["seen_ns"], "delay_ns": timed["delay_ns"], "timed": True}, \
        timed["reason"]


def _at(points: Points, t_ns: int) -> float | None:
    """The newest point at or before t_ns, if within 3 s of it (else a gap: None)."""
    i = bisect.bisect_right(points, (t_ns, float("inf"))) - 1
    return points[i][1] if i >= 0 and t_ns - points[i][0] <= 3e9 else None


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
