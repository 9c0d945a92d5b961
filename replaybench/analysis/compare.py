"""Baseline vs contender: a direction-aware diff of the named metrics, regression rules such as
`restore_time:+10%`, and an exit code for CI (0 fine, 1 regression, 2 not comparable)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from replaybench.errors import UsageError
from replaybench.results import runs as runs_mod
from replaybench.results.runs import Run

# Defaults when no --fail is given. One run a side: loose, and restore only, because on a
# shared 2-core machine single runs of one workload differ by up to 30 % in restore time and
# 5x in storm tail latency. Repetitions on both sides: tight, since the rank rule in
# _inside_noise already keeps noise out.
DEFAULT_RULES_SINGLE = ("restore_time:+35%", "restore_mb_per_s:-25%")
DEFAULT_RULES_REPEATED = ("restore_time:+10%", "restore_mb_per_s:-10%", "storm.produce.p99:+50%",
                          "storm.e2e.p99:+50%")


# A migration's switch is a sum of waits on the mirror's own intervals: single runs differ less
# than restores, and a lost record is a failed verdict, not a percentage.
DEFAULT_RULES_MIGRATION = ("migration.switch_time:+35%", "migration.write_unavailable:+35%")


def default_rules(baseline: list[Run], contender: list[Run]) -> list[Rule]:
    if _migrations(baseline + contender):
        return [Rule.parse(r) for r in DEFAULT_RULES_MIGRATION]
    repeated = len(baseline) >= 2 and len(contender) >= 2
    return [Rule.parse(r) for r in (DEFAULT_RULES_REPEATED if repeated else DEFAULT_RULES_SINGLE)]


def _migrations(runs: list[Run]) -> bool:
    return bool(runs) and all("migration" in r.manifest for r in runs)
SHOWN = ("restore_time", "restore_mb_per_s", "restore_records_per_s", "baseline.produce.p99",
         "baseline.produce.p99.9", "storm.produce.p99", "storm.produce.p99.9", "storm.e2e.p99",
         "storm.e2e.p99.9", "recovery.produce.p99", "interference.produce.p99",
         "interference.produce.p99.9")
SHOWN_MIGRATION = ("migration.lost", "migration.duplicates", "migration.switch_time",
                   "migration.write_unavailable", "migration.read_unavailable",
                   "migration.rollback.lost", "migration.rollback.duplicates",
                   "migration.rollback.switch_time", "mirrored.e2e.p99", "trial.e2e.p99")
EXIT_OK, EXIT_REGRESSION, EXIT_NOT_COMPARABLE = 0, 1, 2


class RuleError(UsageError):
    """A --fail rule that cannot be read."""


@dataclass(frozen=True)
class Rule:
    metric: str
    limit: float   #: +0.10: fail when the contender is > 10 % above; -0.10: > 10 % below

    @classmethod
    def parse(cls, text: str) -> Rule:
        match = re.fullmatch(r"\s*([\w.]+)\s*:\s*([+-]\d+(?:\.\d+)?)%\s*", text)
        if not match:
            raise RuleError(f"--fail {text!r}: expected METRIC:+N% or METRIC:-N%, "
                            "e.g. restore_time:+10%")
        metric, limit = match.group(1), float(match.group(2)) / 100
        higher = runs_mod.higher_is_better(metric)
        if limit and (limit < 0) != higher:
            # a rule that can never fire would pass every regression silently
            raise RuleError(f"--fail {text!r}: {metric} is better when "
                            f"{'higher' if higher else 'lower'}, so a regression is a "
                            f"{'fall' if higher else 'rise'}: write "
                            f"{metric}:{'-' if higher else '+'}{abs(limit):.0%}")
        return cls(metric, limit)


@dataclass
class Row:
    metric: str
    baseline: float | None
    contender: float | None
    diff: float | None
    diff_pct: float | None
    verdict: str        #: better, worse, same, noise (inside the repetitions' spread), n/a,
    #: or unjudged: a run's own verdict says the figure is not the cluster's (see caveat)
    rule: str = ""
    regression: bool = False
    caveat: str = ""


@dataclass
class Comparison:
    comparable: bool
    reasons: list[str]
    rows: list[Row]
    baseline_runs: int
    contender_runs: int

    @property
    def exit_code(self) -> int:
        """A regression wins; a rule that could not be judged refuses (2), so that a pipeline
        gate never passes on figures the harness cannot defend."""
        if not self.comparable:
            return EXIT_NOT_COMPARABLE
        if any(r.regression for r in self.rows):
            return EXIT_REGRESSION
        return EXIT_NOT_COMPARABLE if any(r.rule and r.verdict == "unjudged" for r in self.rows) \
            else EXIT_OK


def compare(baseline: list[Run], contender: list[Run], rules: list[Rule]) -> Comparison:
    reasons = _incomparable(baseline + contender)
    shown = SHOWN_MIGRATION if _migrations(baseline + contender) else SHOWN
    names = list(dict.fromkeys([*shown, *(r.metric for r in rules)]))
    by_metric = {r.metric: r for r in rules}
    rows = [_row(name, baseline, contender, by_metric.get(name)) for name in names]
    rows = [r for r in rows if r.baseline is not None or r.contender is not None or r.rule]
    return Comparison(not reasons, reasons, rows, len(baseline), len(contender))


def _incomparable(all_runs: list[Run]) -> list[str]:
    reasons = []
    hashes = {r.scenario_hash for r in all_runs}
    if len(hashes) > 1:
        names = sorted({f"{r.manifest['workload']['name']}{_replayed(r)} ({r.scenario_hash})"
                        for r in all_runs})
        reasons.append(f"different workloads: {', '.join(names)}")
    labels = {r.cluster_label for r in all_runs}
    if len(labels) > 1:
        reasons.append(f"different clusters: {', '.join(sorted(labels))}")
    return reasons


def _replayed(run: Run) -> str:
    """The replayed topic is part of what a run measured: name it where runs differ."""
    topic = run.manifest.get("replay")
    return f" replaying {topic['name']} (topic id {topic['topic_id']})" if topic else ""


def _row(metric: str, baseline: list[Run], contender: list[Run], rule: Rule | None) -> Row:
    b, c = runs_mod.value(baseline, metric), runs_mod.value(contender, metric)
    row = Row(metric, b, c, None, None, "n/a", f"{rule.limit:+.0%}" if rule else "")
    if b is None or c is None:
        row.regression = rule is not None and c is None and b is not None
        return row
    row.diff = c - b
    row.diff_pct = row.diff / b if b else None
    worse = (c < b) if runs_mod.higher_is_better(metric) else (c > b)
    caveats = [f"{side} {run.path.name}: {text}" for side, group in (("baseline", baseline),
                                                                     ("contender", contender))
               for run in group if (text := runs_mod.caveat(run, metric))]
    if caveats:
        row.verdict, row.caveat = "unjudged", caveats[0]
        return row
    if c == b:
        row.verdict = "same"
    elif _inside_noise(metric, baseline, contender):
        row.verdict = "noise"
    else:
        row.verdict = "worse" if worse else "better"
    if rule and row.verdict == "worse" and row.diff_pct is not None:
        row.regression = row.diff_pct > rule.limit if rule.limit >= 0 else row.diff_pct < rule.limit
    return row


def _inside_noise(metric: str, baseline: list[Run], contender: list[Run]) -> bool:
    """With repetitions on both sides, a change counts only if every contender repetition lies
    beyond every baseline repetition (rank-sum U = 0: for 3 vs 3, p = 0.05 one-sided, 0.1
    two-sided)."""
    if len(baseline) < 2 or len(contender) < 2:
        return False
    b = [v for v in (runs_mod.per_run(r, metric) for r in baseline) if v is not None]
    c = [v for v in (runs_mod.per_run(r, metric) for r in contender) if v is not None]
    if not b or not c:
        return False
    return not (min(c) > max(b) or max(c) < min(b))


def render_json(comparison: Comparison) -> str:
    return json.dumps({**{k: v for k, v in asdict(comparison).items() if k != "rows"},
                       "exit_code": comparison.exit_code,
                       "rows": [asdict(r) for r in comparison.rows]}, indent=2)


def render_markdown(comparison: Comparison) -> str:
    lines = [f"baseline: {comparison.baseline_runs} run(s), contender: "
             f"{comparison.contender_runs} run(s)"]
    if not comparison.comparable:
        lines.append(f"**not comparable**: {'; '.join(comparison.reasons)}")
    lines += ["", "| metric | baseline | contender | diff | diff % | verdict | rule |",
              "|---|---:|---:|---:|---:|---|---|"]
    for r in comparison.rows:
        verdict = f"**REGRESSION** ({r.verdict})" if r.regression else r.verdict
        lines.append(f"| {r.metric} | {_num(r.baseline)} | {_num(r.contender)} | {_num(r.diff)} | "
                     f"{_pct(r.diff_pct)} | {verdict} | {r.rule} |")
    lines += ["", *_caveat_lines(comparison)] if _caveat_lines(comparison) else []
    return "\n".join(lines)


def _caveat_lines(comparison: Comparison) -> list[str]:
    return [f"unjudged {r.metric}: {r.caveat}" for r in comparison.rows if r.caveat]


def render_table(comparison: Comparison) -> str:
    """Plain aligned text: wide metric names are never cut, whatever the terminal."""
    head = ("metric", "baseline", "contender", "diff", "diff %", "verdict", "rule")
    rows = [(r.metric, _num(r.baseline), _num(r.contender), _num(r.diff), _pct(r.diff_pct),
             f"REGRESSION ({r.verdict})" if r.regression else r.verdict, r.rule)
            for r in comparison.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = "  ".join(f"{{:{'<' if i in (0, 5, 6) else '>'}{w}}}" for i, w in enumerate(widths))
    lines = [f"baseline: {comparison.baseline_runs} run(s), contender: "
             f"{comparison.contender_runs} run(s)"]
    if not comparison.comparable:
        lines.append(f"NOT COMPARABLE: {'; '.join(comparison.reasons)}")
    lines += [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in rows]
    lines += _caveat_lines(comparison)
    return "\n".join(line.rstrip() for line in lines)


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:,.3f}" if abs(x) < 100 else f"{x:,.1f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1%}"
