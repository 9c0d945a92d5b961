"""Stored runs read back for comparisons, history and plans, and the named metrics they offer.

Metric names:
- `restore_time` (s), `restore_mb_per_s`, `restore_records_per_s`: over all restore groups;
- `<phase>.<latency>.<stat>`: phase seed|warmup|baseline|storm|recovery|drain, latency
  produce (ack - intended, corrected) | e2e | ack_sent | sent_late (sent - intended), stat
  p50|p90|p99|p99.9|p99.99|max|mean, in ms;
- `interference.<latency>.<stat>`: storm / baseline of the same;
- a migration run: `migration.<figure>` of its cutover (`migration.rollback.<figure>` of its
  rollback): lost, duplicates (records), switch_time, write_unavailable, read_unavailable (s);
  and `<phase>.<latency>.<stat>` over its phases (mirrored, trial, cutover-drain, ...).
Several repetitions of a run merge their HDR histograms losslessly before a percentile is read.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from replaybench.errors import UsageError
from replaybench.format.histograms import LatencyHistogram
from replaybench.results import store
from replaybench.results.stored_record import rows

LATENCIES = {"produce": ("producer", "ack_intended"), "e2e": ("consumer", "e2e"),
             "ack_sent": ("producer", "ack_sent"), "sent_late": ("producer", "sent_intended")}
STATS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9, "p99.99": 99.99}
HIGHER_IS_BETTER = ("restore_mb_per_s", "restore_records_per_s")


class RunsError(UsageError):
    """A results path that holds no readable run, or a metric name that does not exist."""


@dataclass
class Run:
    path: Path
    manifest: dict
    latency: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)
    migration: list[dict] = field(default_factory=list)   #: migration.parquet (older: none)
    #: observability.parquet: a --monitor run's checks of the platform's own metrics
    observability: list[dict] = field(default_factory=list)

    @property
    def scenario_hash(self) -> str:
        """The scenario hash: runs that differ only in tunables (readers, client settings)
        still compare."""
        w = self.manifest.get("workload", {})
        return w.get("scenario_hash") or w.get("hash", "")

    @property
    def tags(self) -> dict:
        return self.manifest.get("tags", {})

    @property
    def cluster_label(self) -> str:
        c = self.manifest.get("cluster", {})
        labels = ",".join(f"{k}={v}" for k, v in sorted(c.get("labels", {}).items()))
        return f"{c.get('kind', '?')} {c.get('broker_version', '?')} x{c.get('brokers', '?')}" + \
            (f" [{labels}]" if labels else "")

    @property
    def started_ns(self) -> int:
        return int(self.manifest.get("started_ns", 0))

    def histogram(self, phase: str, role: str, metric: str) -> LatencyHistogram:
        for row in self.latency:
            if (row["phase"], row["role"], row["metric"]) == (phase, role, metric):
                return LatencyHistogram.from_blob(row["hdr_v2"])
        return LatencyHistogram()


def load_run(path: Path) -> Run:
    manifest_path = Path(path) / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise RunsError(f"{path}: not a run (no manifest.json)") from None
    except json.JSONDecodeError as exc:
        raise RunsError(f"{manifest_path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if manifest.get("schema_version") != store.SCHEMA_VERSION:
        raise RunsError(f"{manifest_path}: schema_version {manifest.get('schema_version')!r}, "
                        f"this replaybench reads {store.SCHEMA_VERSION}")
    return Run(Path(path), manifest, store.read_table(path, "latency").to_pylist(),
               store.read_table(path, "restore_groups").to_pylist(), rows(path, "migration"),
               rows(path, "observability"))


def is_compat(path: Path) -> bool:
    """A compat result (`replaybench compat`), stored beside runs but not a run."""
    try:
        return json.loads((Path(path) / "manifest.json").read_text()).get("kind") == "compat"
    except (OSError, json.JSONDecodeError):
        return False


def load_runs(path: Path) -> list[Run]:
    """A run directory, or a directory of runs (repetitions), oldest first."""
    path = Path(path)
    if (path / "manifest.json").exists():
        return [load_run(path)]
    if not path.is_dir():
        raise RunsError(f"{path}: no such results directory")
    runs = [load_run(p) for p in sorted(path.iterdir())
            if (p / "manifest.json").exists() and not is_compat(p)]
    if not runs:
        raise RunsError(f"{path}: holds no runs (no */manifest.json)")
    return sorted(runs, key=lambda r: r.started_ns)


def higher_is_better(metric: str) -> bool:
    return metric in HIGHER_IS_BETTER


def value(runs: list[Run], metric: str) -> float | None:
    """The metric over the runs taken together (histograms merged; restore and migration
    figures: median)."""
    if metric.startswith(("restore_", "migration.")):
        values = [v for v in (per_run(r, metric) for r in runs) if v is not None]
        return statistics.median(values) if values else None
    kind, name, stat = _parse(metric)
    if kind == "interference":
        storm, base = _latency(runs, "storm", name, stat), _latency(runs, "baseline", name, stat)
        return storm / base if storm is not None and base else None
    return _latency(runs, kind, name, stat)


def per_run(run: Run, metric: str) -> float | None:
    if metric.startswith("restore_"):
        return _restore(run, metric)
    if metric.startswith("migration."):
        return _migration(run, metric)
    return value([run], metric)


def headline_groups(groups: list[dict]) -> list[dict]:
    """The restore groups a run's restore figures come from: a Kafka Streams run's replay of
    the same changelog by replaybench's readers (side by side) is beside them, not in them."""
    if all(g.get("mode") == "replay" for g in groups):
        return groups
    return [g for g in groups if g.get("mode") != "replay"]


def _restore(run: Run, metric: str) -> float | None:
    headline = headline_groups(run.groups)
    groups = [g for g in headline if g["caught_up_ns"]]
    if not groups or len(groups) != len(headline):
        return None
    seconds = (max(g["caught_up_ns"] for g in groups) - min(g["started_ns"] for g in groups)) / 1e9
    if metric == "restore_time":
        return max(g["restore_time_ns"] for g in groups) / 1e9
    if metric == "restore_mb_per_s":
        return sum(g["bytes"] for g in groups) / 1e6 / seconds
    if metric == "restore_records_per_s":
        return sum(g["records"] for g in groups) / seconds
    raise RunsError(f"unknown metric {metric!r}; restore metrics are restore_time, "
                    "restore_mb_per_s, restore_records_per_s")


#: migration figure -> (its column in migration.parquet's total row, scale to the unit)
MIGRATION_FIGURES = {"lost": ("lost", 1), "duplicates": ("duplicates", 1),
                     "switch_time": ("switch_ns", 1e-9),
                     "write_unavailable": ("write_unavailable_ns", 1e-9),
                     "read_unavailable": ("read_unavailable_ns", 1e-9)}


def _migration(run: Run, metric: str) -> float | None:
    parts = metric.split(".")
    step, figure = (parts[1], parts[2]) if len(parts) == 3 else ("cutover", parts[-1])
    if len(parts) not in (2, 3) or figure not in MIGRATION_FIGURES:
        raise RunsError(f"unknown metric {metric!r}; migration metrics are "
                        f"migration[.rollback].{{{','.join(MIGRATION_FIGURES)}}}")
    column, scale = MIGRATION_FIGURES[figure]
    total = next((r for r in run.migration if r["step"] == step and r["partition"] == -1), None)
    return None if total is None or total.get(column) is None else total[column] * scale


_JUDGED_ROLE = {"produce": "producer", "e2e": "consumer"}


def caveat(run: Run, metric: str) -> str | None:
    """Why this run's figure for `metric` is not the cluster's, from the verdicts the run
    stored: a host- or client-bound restore (restore_*), or an inconclusive storm verdict
    (interference.*; storm.* when the generator or the sample count was the problem).
    None: nothing stands against it (runs from before verdicts carry none)."""
    if metric.startswith("migration."):
        return None
    if metric.startswith("restore_"):
        bound = [g for g in headline_groups(run.groups)
                 if g.get("verdict") in ("client-bound", "host-bound")]
        return f"{bound[0]['verdict']} restore: {bound[0].get('verdict_reasons')}" \
            if bound else None
    kind, name, stat = _parse(metric)
    if kind not in ("storm", "interference") or name not in _JUDGED_ROLE:
        return None
    for c in run.manifest.get("summary", {}).get("comparisons", []):
        if (c["role"], c["stat"], c["reference"]) != (_JUDGED_ROLE[name], stat, "overall") \
                or c["verdict"] != "inconclusive":
            continue
        if kind == "interference" or any(k in c["reason"] for k in ("generator-bound",
                                                                        "too few samples")):
            return f"inconclusive storm {stat}: {c['reason']}"
    return None


def _latency(runs: list[Run], phase: str, name: str, stat: str) -> float | None:
    role, metric = LATENCIES[name]
    merged = LatencyHistogram()
    for run in runs:
        merged.add(run.histogram(phase, role, metric))
    if not merged.count:
        return None
    if stat == "max":
        return merged.hist.get_max_value() / 1e6
    if stat == "mean":
        return merged.summary()["mean_ns"] / 1e6
    return merged.percentile(STATS[stat]) / 1e6


def _parse(metric: str) -> tuple[str, str, str]:
    parts = metric.split(".", 2)
    if len(parts) == 3 and parts[1] in LATENCIES and parts[2] in (*STATS, "max", "mean"):
        return parts[0], parts[1], parts[2]
    raise RunsError(f"unknown metric {metric!r}; expected restore_time, restore_mb_per_s, "
                    "restore_records_per_s or PHASE.LATENCY.STAT such as storm.produce.p99 "
                    f"(LATENCY: {', '.join(LATENCIES)}; STAT: {', '.join(STATS)}, max, mean)")
