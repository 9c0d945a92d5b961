"""`replaybench scorecard`: the go/no-go for a candidate platform from stored runs and compat
results only. One card per platform (storage model and broker version); per category pass,
partial or blocker, with the evidence and the rule that decided it (docs/scorecard.md).

Missing evidence is never a pass: it is partial, saying what to run. A migration run counts
for the platform it migrates to (its target), and only for migration safety.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from replaybench.analysis import cost
from replaybench.analysis.thresholds import Thresholds
from replaybench.results import runs as runs_mod
from replaybench.results.compat_results import CompatResult
from replaybench.results.runs import Run
from replaybench.verdicts import observability as observability_judge

# A category's grade (not a check's outcome, evaluation/probe.py, nor a run's verdicts)
GRADE_PASS, GRADE_PARTIAL, GRADE_BLOCKER, GRADE_NOT_JUDGED = \
    "pass", "partial", "blocker", "not judged"
_RANK = {GRADE_NOT_JUDGED: -1, GRADE_PASS: 0, GRADE_PARTIAL: 1, GRADE_BLOCKER: 2}
CATEGORIES = ("application semantics", "platform recovery", "replay behaviour",
              "cost and capacity", "security boundary", "migration safety", "observability")


@dataclass
class Grade:
    category: str
    status: str
    evidence: list[str]
    rule: str


@dataclass
class Card:
    platform: str
    grades: list[Grade] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(v.status == GRADE_BLOCKER for v in self.grades)


def platform(manifest: dict) -> str:
    """What a candidate platform is: its storage model (or profile name) and broker version.
    Its secured runs are the same platform's security evidence, not another platform."""
    c = manifest.get("cluster", {})
    if "target" in c:   # a migration: the candidate is where it moved to
        c = c["target"]
    model = c.get("storage") or c.get("name") or "external"
    return f"{model} · {c.get('broker_version', '?')}"


def build(runs: list[Run], compats: list[CompatResult], limits: Thresholds) -> list[Card]:
    keys = sorted({platform(r.manifest) for r in runs} | {platform(c.manifest) for c in compats})
    prices = cost.load_prices(limits.price_sheet)
    cards = []
    for key in keys:
        here = [r for r in runs if platform(r.manifest) == key]
        moves = [r for r in here if "migration" in r.manifest]
        mine = [r for r in here if "migration" not in r.manifest]
        checks = [c for c in compats if platform(c.manifest) == key]
        cards.append(Card(key, [semantics(checks, mine, limits), recovery(mine, limits),
                                replay(mine, limits), capacity(mine, limits, prices),
                                security(mine), migration(moves), observability(mine)]))
    return cards


def _worst(category: str, parts: list[tuple[str, str]], rule: str) -> Grade:
    status = max((s for s, _ in parts), key=_RANK.__getitem__)
    return Grade(category, status, [e for _, e in parts], rule)


def semantics(compats: list[CompatResult], runs: list[Run], limits: Thresholds) -> Grade:
    rule = (f"blocker: a required check ({', '.join(limits.required_checks)}) failed, is "
            "unsupported or missing, or a Kafka Streams run lost updates; partial: another "
            "check failed or is unsupported, or idempotence was checked without a restart")
    if not compats:
        return Grade(CATEGORIES[0], GRADE_BLOCKER if _streams_lost(runs) else GRADE_PARTIAL,
                       ["no compat result: run `replaybench compat` on this platform",
                        *_streams_lost(runs)], rule)
    latest = max(compats, key=lambda c: c.manifest.get("started_ns", 0))
    parts = [_check_part(row, row["check"] in limits.required_checks) for row in latest.rows]
    ran = {row["check"] for row in latest.rows}
    parts += [(GRADE_BLOCKER, f"{name}: not checked") for name in limits.required_checks if name not in ran]
    parts += [(GRADE_BLOCKER, lost) for lost in _streams_lost(runs)]
    return _worst(CATEGORIES[0], parts, rule)


def _check_part(row: dict, required: bool) -> tuple[str, str]:
    text = f"{row['check']}: {row['status']}" + (f" ({row['received']})" if row["status"] != "pass"
                                                  else "")
    if row["status"] == "pass":
        partial = "without a broker restart" in (row.get("scope") or "")
        return (GRADE_PARTIAL, f"{text}, without a broker restart") if partial else (GRADE_PASS, text)
    return (GRADE_BLOCKER if required else GRADE_PARTIAL), text


def _streams_lost(runs: list[Run]) -> list[str]:
    return [f"run {r.path.name}: Kafka Streams lost {g['lost_updates']:,} updates"
            for r in runs for g in r.groups if g.get("lost_updates")]


def recovery(runs: list[Run], limits: Thresholds) -> Grade:
    rule = (f"blocker: a run lost or changed acknowledged data (verification), or the restore "
            f"misses the recovery objective ({limits.recovery_objective_s:,.0f} s"
            f"{' for the state size' if limits.state_size_bytes else ''}); partial: no run, no "
            "broker drill, restore figures the harness set, or no state_size to judge")
    if not runs:
        return Grade(CATEGORIES[1], GRADE_PARTIAL, ["no run on this platform"], rule)
    parts = [(GRADE_BLOCKER, f"run {r.path.name}: {r.manifest.get('reason')}") for r in runs
             if str(r.manifest.get("reason", "")).startswith("verification")]
    parts += [(GRADE_PARTIAL, f"run {r.path.name} failed: {r.manifest.get('reason')}") for r in runs
              if r.manifest.get("status") == "failed"
              and not str(r.manifest.get("reason", "")).startswith("verification")]
    parts.append(_restore_time_part(runs, limits))
    drilled = [r for r in runs if r.manifest["workload"]["spec"].get("faults")]
    parts.append((GRADE_PASS, f"{len(drilled)} run(s) with broker drills") if drilled else
                 (GRADE_PARTIAL, "no run with a broker drill (e.g. --workload broker-replacement)"))
    return _worst(CATEGORIES[1], parts, rule)


def _restore_time_part(runs: list[Run], limits: Thresholds) -> tuple[str, str]:
    defended = [r for r in runs if runs_mod.per_run(r, "restore_time")
                and not runs_mod.caveat(r, "restore_time")]
    if not defended:
        return GRADE_PARTIAL, "no restore figure the cluster set (all client- or host-bound, or none)"
    rto = limits.recovery_objective_s
    if limits.state_size_bytes:
        rate = min(runs_mod.per_run(r, "restore_mb_per_s") for r in defended)
        predicted = limits.state_size_bytes / 1e6 / rate
        return (GRADE_PASS if predicted <= rto else GRADE_BLOCKER,
                f"{limits.state_size_bytes / 1e9:,.0f} GB at the slowest measured "
                f"{rate:,.1f} MB/s: {predicted:,.0f} s against {rto:,.0f} s")
    worst = max(runs_mod.per_run(r, "restore_time") for r in defended)
    if worst > rto:
        return GRADE_BLOCKER, f"measured restore {worst:,.1f} s against {rto:,.0f} s"
    return GRADE_PARTIAL, (f"measured restore {worst:,.1f} s within {rto:,.0f} s, but only at the "
                     "measured state size: set state_size to judge yours")


def replay(runs: list[Run], limits: Thresholds) -> Grade:
    budget = limits.interference_budget
    rule = (f"blocker: live produce p99 during the restore above {budget:g}x the baseline with "
            "an interference verdict, or a replay that did not account for every offset; "
            "partial: no verdict, or inconclusive, or interference on a host the harness "
            "saturated (a host-bound restore)")
    parts = []
    for r in runs:
        saturated = next((g for g in r.groups if g.get("verdict") == "host-bound"), None)
        for c in r.manifest.get("summary", {}).get("comparisons", []):
            if (c["role"], c["stat"], c["reference"]) != ("producer", "p99", "overall"):
                continue
            text = f"run {r.path.name}: storm p99 {c['ratio']:.2f}x baseline ({c['verdict']})"
            over = c["verdict"] == "interference" and c["ratio"] > budget
            if over and saturated:
                parts.append((GRADE_PARTIAL, f"{text}, but on a host the harness saturated (restore "
                                       f"host-bound: {_first_reason(saturated)}): the "
                                       "comparison is this machine's, not the platform's; "
                                       "judge it with the readers on other cores or machines "
                                       "(Ray nodes, or --bootstrap from another host)"))
                continue
            parts.append((GRADE_BLOCKER if over else GRADE_PARTIAL if c["verdict"] == "inconclusive"
                           else GRADE_PASS, text))
        if any(g.get("mode") == "replay" for g in r.groups) and \
                str(r.manifest.get("reason", "")).startswith("verification"):
            parts.append((GRADE_BLOCKER, f"replay run {r.path.name}: {r.manifest['reason']}"))
    return _worst(CATEGORIES[2], parts or [(GRADE_PARTIAL, "no interference verdict in these runs")],
                  rule)


def _first_reason(group: dict) -> str:
    return str(group.get("verdict_reasons") or "").split(";")[0]


def capacity(runs: list[Run], limits: Thresholds, prices: cost.PriceSheet) -> Grade:
    rule = ("blocker: one restore costs more than cost_ceiling, or readers alone cannot meet "
            "the objective; partial: no state_size or cost_ceiling set, or readers unknown")
    if not limits.state_size_bytes:
        return Grade(CATEGORIES[3], GRADE_PARTIAL, ["no state_size in the thresholds: nothing to "
                                                "price"], rule)
    costs = cost.restore_costs(runs, prices, limits.state_size_bytes, limits.recovery_objective_s)
    if not costs:
        return Grade(CATEGORIES[3], GRADE_PARTIAL, ["no restore the cluster set: nothing to price"], rule)
    parts = []
    for m in costs:
        text = (f"{m.storage_model}: one restore {m.cost_per_restore:,.2f} {prices.currency}, "
                f"readers for the objective {m.readers_for_rto or 'unknown'}")
        if limits.cost_ceiling is not None and m.cost_per_restore > limits.cost_ceiling:
            parts.append((GRADE_BLOCKER, f"{text}, above the ceiling {limits.cost_ceiling:,.2f}"))
        elif m.readers_for_rto is None:
            out_of_reach = "out of reach" in m.basis
            parts.append((GRADE_BLOCKER if out_of_reach else GRADE_PARTIAL, f"{text} ({m.basis})"))
        else:
            parts.append((GRADE_PASS if limits.cost_ceiling is not None else GRADE_PARTIAL,
                          text + ("" if limits.cost_ceiling is not None else
                                  "; no cost_ceiling set")))
    return _worst(CATEGORIES[3], parts, rule)


def security(runs: list[Run]) -> Grade:
    rule = ("pass: a completed run under SASL_SSL with least-privilege ACLs; blocker: a secured "
            "run refused an authorization its role needs; partial: no secured run, or TLS only "
            "(no principals or ACLs exercised)")
    secured = [r for r in runs if r.manifest.get("cluster", {}).get("security")]
    if not secured:
        return Grade(CATEGORIES[4], GRADE_PARTIAL, ["no run on a secured cluster "
                                                "(--security tls|sasl_ssl)"], rule)
    return _worst(CATEGORIES[4], [_security_part(r) for r in secured], rule)


def _security_part(run: Run) -> tuple[str, str]:
    cluster, reason = run.manifest["cluster"], str(run.manifest.get("reason") or "")
    acls = cluster.get("acls", {})
    text = f"run {run.path.name} ({cluster['security']}): {run.manifest.get('status')}"
    if "AUTHORIZATION_FAILED" in reason:
        deliberate = "left out by --drop-acl" in reason
        return (GRADE_PARTIAL if deliberate else GRADE_BLOCKER), f"{text}: {reason}"
    if run.manifest.get("status") != "completed":
        return GRADE_PARTIAL, f"{text}: {reason}"
    if cluster["security"] != "sasl_ssl" or not acls.get("granted"):
        return GRADE_PARTIAL, f"{text}; TLS only, no principals or ACLs"
    return GRADE_PASS, f"{text} with {len(acls['granted'])} least-privilege grants, none dropped" \
        if not acls.get("dropped") else f"{text}"


def migration(moves: list[Run]) -> Grade:
    """From migration runs to this platform, judged on their ledgers (verdicts/migration.py)."""
    rule = ("pass: a completed migration with a rollback, nothing lost and duplicates within "
            "the procedure's bound; blocker: any acknowledged record lost; partial: no "
            "migration run, none with a rollback, or more duplicates than the bound")
    if not moves:
        return Grade(CATEGORIES[5], GRADE_PARTIAL, ["no migration run to this platform (run "
                                                "--workload migration-rollback with "
                                                "migration.target set to it)"], rule)
    parts = [_migration_part(r) for r in moves]
    if not any("rollback" in r.manifest["migration"].get("steps", []) and s == GRADE_PASS
               for r, (s, _) in zip(moves, parts)):
        parts.append((GRADE_PARTIAL, "no passing migration with a rollback"))
    return _worst(CATEGORIES[5], parts, rule)


def observability(runs: list[Run]) -> Grade:
    """From --monitor runs: did the platform's own metrics show the restore and the faults
    (verdicts/observability.py)?"""
    rule = ("pass: monitored runs whose platform metrics showed the restore and a broker fault "
            "in time, and the consumers' lag close to the truth; blocker: a restore, a fault or "
            "the lag they did not show, or showed late or wrong; partial: no monitored run, "
            "none with a broker fault, checks not judged, or no alert fired for a fault (whether "
            "a short fault should page is the team's call)")
    watched = [r for r in runs if r.observability]
    if not watched:
        return Grade(CATEGORIES[6], GRADE_PARTIAL, ["no run with --monitor on this platform"],
                     rule)
    parts = [_observability_part(r, c) for r in watched for c in r.observability]
    for subject, what, run_one in (("restore", "the restore", "--monitor"),
                                   ("fault ", "a broker fault", "--monitor and a broker fault")):
        if not any(c["subject"].startswith(subject) and c["passed"] for r in watched
                   for c in r.observability):
            parts.append((GRADE_PARTIAL, f"no monitored run showed {what} (run one with "
                                         f"{run_one})"))
    return _worst(CATEGORIES[6], parts, rule)


def _observability_part(run: Run, check: dict) -> tuple[str, str]:
    text = f"run {run.path.name}: {check['subject']}: {check['reason']}"
    if check["passed"] is None:
        return GRADE_PARTIAL, f"{text} (not judged)"
    if check.get("check") == observability_judge.ALERT_CHECK and not check["passed"]:
        return GRADE_PARTIAL, text
    return (GRADE_PASS if check["passed"] else GRADE_BLOCKER), text


def _migration_part(run: Run) -> tuple[str, str]:
    verdict = run.manifest["migration"]
    source = run.manifest.get("cluster", {}).get("kind", "")
    text = (f"run {run.path.name} ({source}, {verdict.get('procedure')}, "
            f"{' + '.join(verdict.get('steps', []))}): {verdict.get('verdict')}")
    if not verdict:
        return GRADE_PARTIAL, f"run {run.path.name}: {run.manifest.get('reason')}"
    if verdict.get("lost"):
        return GRADE_BLOCKER, text
    if not verdict.get("passed") or run.manifest.get("status") != "completed":
        return GRADE_PARTIAL, f"{text}; {run.manifest.get('reason') or 'not passed'}"
    return GRADE_PASS, text
