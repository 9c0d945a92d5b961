"""A stored run judged again from its files alone: every restore group's bound-by verdict, every
interference comparison, every check and the run's verification, and a migration's go/no-go,
with the judges' lines as stored (they must come out as the run wrote them) or a team's own
(`--thresholds`). Nothing is written; what changed is returned."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from replaybench.analysis.thresholds import Thresholds
from replaybench.results.runs import Run
from replaybench.results.stored_record import has_ticks, load_record, rows
from replaybench.results.summary import summarize
from replaybench.verdicts import client_bound, observability
from replaybench.verdicts import migration as migration_judge

NOT_STORED = "not stored"   #: what a run written before its judges' inputs were kept shows


@dataclass(frozen=True)
class Rejudged:
    what: str       #: e.g. "group 0 bound by", "interference producer p99 (overall)"
    stored: str     #: the verdict the run wrote
    now: str        #: the verdict its files give today

    @property
    def changed(self) -> bool:
        return self.stored != self.now and self.now != NOT_STORED


def rejudge(run: Run, limits: Thresholds) -> list[Rejudged]:
    record = load_record(run.path, run.manifest)
    out = [*_groups(record.groups, limits.restore_judge)]
    checks = _checks(record.verification, run.manifest, limits.migration_max_duplicates)
    out += [Rejudged(f"check {s['scope']}.{s['check']}", _passed(s["passed"]),
                     _passed(c["passed"])) for s, c in zip(record.verification, checks)]
    stored_summary = run.manifest.get("summary", {})
    if checks:
        out.append(Rejudged("verification", _passed(stored_summary.get("verification_passed")),
                            _passed(all(c["passed"] for c in checks))))
    out += _interference(run, record, limits, stored_summary.get("comparisons", []))
    if run.manifest.get("migration"):
        out.append(_migration(run.manifest["migration"], limits.migration_max_duplicates))
    return out + _observability(run, limits.observability_judge)


def _groups(groups: list[dict], limits: client_bound.Limits) -> list[Rejudged]:
    """Groups restored by replaybench's readers carry their evidence (a Kafka Streams
    restore is the application's own, judged by its checks)."""
    out = []
    for g in groups:
        if not g.get("verdict"):
            continue
        if g.get("host_cores") is None:
            out.append(Rejudged(f"group {g['group']} bound by", g["verdict"], NOT_STORED))
            continue
        evidence = {k: g[k] for k in _EVIDENCE}
        now = client_bound.judge_evidence(evidence, bool(g["shared_host"]), g["host_cores"],
                                          limits)
        out.append(Rejudged(f"group {g['group']} bound by", g["verdict"], now.verdict))
        # the record is this call's own copy: the interference judge reads the new verdict
        g.update(verdict=now.verdict, verdict_reasons="; ".join(now.reasons))
    return out


_EVIDENCE = ("fetch_samples", "fetch_idle_share", "fetch_full_share", "reader_thread_busy_share",
             "reader_fold_share", "reader_consume_share", "reader_cpu_cores", "host_idle_share")


def _checks(checks: list[dict], manifest: dict, bound: int | None) -> list[dict]:
    """Each check again: exact ones pass when what was measured is what a correct run gives;
    a migration's duplicates against the bound (the team's, or the run's own)."""
    out = []
    for c in checks:
        c = dict(c)
        twice = next((t for t in _DUPLICATES if c["check"].startswith(t)), None)
        if c["scope"] == "migration" and twice:
            bound = manifest["migration"]["max_duplicates"] if bound is None else bound
            c.update(check=f"{twice} (at most {bound})",
                     expected=min(c["observed"], bound))
        c["passed"] = c["expected"] == c["observed"]
        out.append(c)
    return out


_DUPLICATES = tuple(unit[1] for unit in migration_judge.UNITS.values())


def _interference(run: Run, record, limits: Thresholds, stored: list[dict]) -> list[Rejudged]:
    def name(c) -> str:
        return f"interference {c['role']} {c['stat']} ({c['reference']})"

    if not stored:
        return []
    if not has_ticks(run.path):
        return [Rejudged(name(c), c["verdict"], NOT_STORED) for c in stored
                if c["reference"] == "overall"]
    now = {name(asdict(c)): c.verdict
           for c in summarize(record, limits.interference_judge).comparisons}
    return [Rejudged(name(c), c["verdict"], now.get(name(c), "not judged")) for c in stored]


def _migration(stored: dict, bound: int | None) -> Rejudged:
    bound = stored["max_duplicates"] if bound is None else bound
    now = migration_judge.verdict_of(stored["lost"], stored["duplicates"], bound,
                                     stored.get("unit", "records"))
    return Rejudged("migration", stored["verdict"], now)


def _observability(run: Run, limits: observability.Limits) -> list[Rejudged]:
    """--monitor: the checks again, from the stored series, phases and faults."""
    stored = rows(run.path, "observability")
    if not stored:
        return []
    phases = {p: (b["start_ns"], b["end_ns"]) for p, b in run.manifest.get("phases", {}).items()}
    asked = run.manifest.get("monitoring", {}).get("queries", {})
    now = {c["subject"]: c for c in observability.judge_run(
        rows(run.path, "platform_metrics"), phases, rows(run.path, "faults"),
        run.manifest.get("ended_ns", 0), limits, rows(run.path, "timeseries"),
        asked, rows(run.path, "events"))}
    return [Rejudged(f"observability {c['subject']}", _shown(c["passed"]),
                     _shown(now[c["subject"]]["passed"]) if c["subject"] in now
                     else "not judged") for c in stored]


def _shown(passed) -> str:
    return "not judged" if passed is None else "showed" if passed else "did not show"


def _passed(value) -> str:
    return "passed" if value else "failed" if value is not None else NOT_STORED


def render(run_path: Path, judged: list[Rejudged], every: bool) -> str:
    changed = [r for r in judged if r.changed]
    unjudged = sum(r.now == NOT_STORED for r in judged)
    shown = judged if every else changed
    head = f"{run_path}: {len(judged)} verdicts, " + (
        f"{len(changed)} changed" if changed else "none changed") + (
        f", {unjudged} not judged again (the run did not store their inputs: written by an "
        f"older replaybench)" if unjudged else "")
    width = max((len(r.what) for r in shown), default=0)
    lines = [f"  {r.what:<{width}}  {r.stored}  ->  {r.now}" if r.changed
             else f"  {r.what:<{width}}  {r.now}" for r in shown]
    return "\n".join([head, *lines])
