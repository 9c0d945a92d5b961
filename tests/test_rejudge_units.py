"""`rejudge` over stored files the run did not all write (no broker: the files are written here
or kept from older runs; a real run judged again is in test_run_real.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from replaybench.analysis import thresholds
from replaybench.analysis.rejudge import NOT_STORED, rejudge
from replaybench.results import store
from replaybench.results.runs import load_run
from replaybench.verdicts import observability as obs

from tests import cli_in_process

OLD_RUN = (Path(__file__).resolve().parent / "fixtures" / "runs" / "baseline"
           / "20261126T160451Z-restore-storm-6dc900")


def _shell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replaybench", "rejudge", *args],
                          capture_output=True, text=True, timeout=120)


def _cli(*args: str) -> cli_in_process.Result:
    return cli_in_process.run("rejudge", *args)


def _migration_run(tmp_path: Path, duplicates: int, bound: int) -> Path:
    verdict = {"lost": 0, "duplicates": duplicates, "max_duplicates": bound,
               "passed": duplicates <= bound,
               "verdict": f"GO: nothing lost, {duplicates} delivered twice (bound {bound})"}
    checks = [{"scope": "migration", "check": "acknowledged records never delivered",
               "expected": 0, "observed": 0, "passed": True},
              {"scope": "migration", "check": f"records delivered twice (at most {bound})",
               "expected": min(duplicates, bound), "observed": duplicates,
               "passed": duplicates <= bound}]
    manifest = {"run_id": "m", "status": "completed", "started_ns": 1, "migration": verdict,
                "summary": {"verification_passed": True, "comparisons": []}}
    partial = store.new_partial(tmp_path, "m")
    tables = {name: [] for name in store.RUN_TABLES} | {"verification": checks}
    return store.finish(partial, tables, manifest)


def test_a_migration_judged_again_with_a_tighter_duplicates_bound_is_no_go(tmp_path):
    run = load_run(_migration_run(tmp_path, duplicates=69, bound=400))
    same = {r.what: r for r in rejudge(run, thresholds.Thresholds())}
    assert not any(r.changed for r in same.values())
    tight = {r.what: r for r in rejudge(run, thresholds.Thresholds(migration_max_duplicates=10))}
    assert tight["migration"].now == "NO-GO: 69 records delivered twice, more than the " \
                                     "procedure's 10"
    assert tight["verification"].now == "failed"
    assert tight["check migration.records delivered twice (at most 400)"].now == "failed"


def test_a_run_stored_before_the_judges_inputs_were_kept_says_so(tmp_path):
    overall = {"role": "producer", "stat": "p99", "reference": "overall", "reference_ns": 1,
               "storm_ns": 2, "ratio": 2.0, "ci_low": 1.5, "ci_high": 2.5,
               "verdict": "interference", "reason": "storm p99 above the band"}
    manifest = {"run_id": "old", "status": "completed", "started_ns": 1,
                "summary": {"verification_passed": True, "comparisons": [overall]}}
    tables = {name: [] for name in store.RUN_TABLES if name != "latency_ticks"}
    tables["restore_groups"] = [{"group": 0, "verdict": "client-bound"}]
    run_dir = store.finish(store.new_partial(tmp_path, "old"), tables, manifest)
    rows = {r.what: r for r in rejudge(load_run(run_dir), thresholds.Thresholds())}
    assert rows["group 0 bound by"].now == rows["interference producer p99 (overall)"].now \
        == NOT_STORED
    assert not any(r.changed for r in rows.values())
    out = _shell(str(run_dir))
    assert out.returncode == 0 and "2 not judged again (the run did not store their inputs" \
        in out.stdout and not out.stderr


def test_a_run_from_before_any_verdict_is_judged_on_its_checks(tmp_path):
    rows = rejudge(load_run(OLD_RUN), thresholds.Thresholds())
    assert {r.what for r in rows} >= {"verification", "check group-0.missing_keys"}
    assert all(r.now == r.stored == "passed" for r in rows)


@pytest.mark.parametrize("text, expected", [
    ("restore_judge: {idle_share: 1}\n", "restore_judge: unknown field 'idle_share'; known: "
                                         "idle_share_max,"),
    ("interference_judge: {margin: -1}\n", "interference_judge.margin: -1 is not a positive"),
    ("interference_judge: {margin: .nan}\n", "interference_judge.margin: nan is not a positive"),
    ("interference_judge: 3\n", "interference_judge: expected a mapping of min_samples_factor"),
    ("migration_max_duplicates: 2.5\n", "migration_max_duplicates: 2.5 is not a count"),
])
def test_bad_judges_lines_are_one_line_errors_naming_the_file_and_field(tmp_path, text, expected):
    path = tmp_path / "lines.yaml"
    path.write_text(text)
    out = _cli(str(OLD_RUN), "--thresholds", str(path))
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"{path}: " in out.stderr and expected in out.stderr, out.stderr


def test_numbers_written_as_yaml_reads_them_are_taken(tmp_path):
    path = tmp_path / "lines.yaml"
    path.write_text("interference_judge: {margin: 1.0e9}\nrestore_judge: {min_samples: 7}\n")
    limits = thresholds.load(path)
    assert limits.interference_judge.margin == 1e9 and limits.restore_judge.min_samples == 7


def test_a_monitored_runs_lag_and_alerts_are_judged_again_from_its_stored_series():
    """A real broker-replacement run with --monitor (tests/fixtures/runs/monitored): the lag
    exporter's error, within 10 s of traffic as run, is off with a 1 s limit; its alert check
    (none fired) stays as it was."""
    [run_dir] = (OLD_RUN.parent.parent / "monitored").iterdir()
    run = load_run(run_dir)
    same = {r.what: r for r in rejudge(run, thresholds.Thresholds())}
    assert same["observability live consumers' lag"].stored == "showed"
    assert same["observability fault 0 replace broker-2: alert"].stored == "did not show"
    assert not any(r.changed for r in same.values() if r.what.startswith("observability"))
    tight = thresholds.Thresholds(observability_judge=obs.Limits(lag_error_s=1.0))
    now = {r.what: r for r in rejudge(run, tight)}
    assert now["observability live consumers' lag"].now == "did not show"
    assert now["observability fault 0 replace broker-2: alert"].now == "did not show"
