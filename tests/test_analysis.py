"""compare, history, plan, report and interop over fixtures of real runs (tests/fixtures/runs,
made by `replaybench run`/`sweep` against a real broker), so they need no broker here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

from replaybench.analysis import compare, history, interop, plan, report
from replaybench.engine import runner, workload
from replaybench.results import runs

from tests import cli_in_process

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RUNS = FIXTURES / "runs"


def _shell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replaybench", *args], capture_output=True,
                          text=True, timeout=120)


_cli = cli_in_process.run   # the rest in this process (tests/cli_in_process.py)


def test_repetitions_of_the_same_workload_compare_clean():
    reps = sorted((RUNS / "baseline").iterdir())
    out = _shell("compare", str(reps[0]), str(reps[2]), "--format", "markdown")
    assert out.returncode == 0, out.stdout + out.stderr  # the most distant pair: +27 % apart
    assert "| restore_time |" in out.stdout and "REGRESSION" not in out.stdout
    table = _cli("compare", str(reps[1]), str(reps[2]))
    assert table.returncode == 0 and table.stdout.splitlines()[3].startswith("restore_time")


def test_a_slowed_contender_is_flagged_as_a_regression():
    out = _cli("compare", str(RUNS / "baseline"), str(RUNS / "slow"), "--format", "json",
               "--fail", "restore_time:+10%")
    assert out.returncode == 1, out.stdout + out.stderr
    result = json.loads(out.stdout)
    row = next(r for r in result["rows"] if r["metric"] == "restore_time")
    assert row["regression"] and row["verdict"] == "worse" and row["diff_pct"] > 0.1
    assert (result["baseline_runs"], result["contender_runs"]) == (3, 2)


def test_different_workloads_are_not_comparable():
    out = _cli("compare", str(RUNS / "baseline"), str(RUNS / "other"))
    assert out.returncode == 2 and "NOT COMPARABLE" in out.stdout
    assert "different workloads" in out.stdout


def test_latency_of_repetitions_comes_from_merged_histograms():
    reps = runs.load_runs(RUNS / "baseline")
    merged = HdrHistogram(1, 3_600_000_000_000, 3)
    for run in reps:
        merged.add(run.histogram("storm", "producer", "ack_intended").hist)
    assert runs.value(reps, "storm.produce.p99") == merged.get_value_at_percentile(99) / 1e6


def _with_restore_time(src: Path, dst: Path, seconds: float) -> Path:
    """A fixture run copied with its restore taking `seconds` (its groups' caught-up time
    moved), so that a test can place a repetition exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    shutil.copytree(src, dst)
    table = pq.read_table(dst / "restore_groups.parquet")
    started = table.column("started_ns").to_pylist()
    done = [s + int(seconds * 1e9) for s in started]
    for name, values in (("caught_up_ns", done), ("restore_time_ns", [int(seconds * 1e9)] * len(done))):
        table = table.set_column(table.schema.get_field_index(name), name, pa.array(values, pa.int64()))
    pq.write_table(table, dst / "restore_groups.parquet")
    return dst


def test_only_repetitions_beyond_every_baseline_repetition_are_a_change(tmp_path):
    """Disjoint sets of runs: two baseline repetitions, and contenders made from a third run."""
    reps = sorted((RUNS / "baseline").iterdir())
    for i, s in ((0, 10.0), (1, 12.0)):
        _with_restore_time(reps[i], tmp_path / "base" / f"b{i}", s)
    rule = [compare.Rule.parse("restore_time:+10%")]
    for i, s in ((0, 11.0), (1, 30.0)):      # one inside the baseline's spread
        _with_restore_time(reps[2], tmp_path / "mixed" / f"c{i}", s)
    for i, s in ((0, 14.0), (1, 15.0)):      # both beyond every baseline repetition
        _with_restore_time(reps[2], tmp_path / "slow" / f"c{i}", s)
    base = runs.load_runs(tmp_path / "base")
    assert sorted(runs.per_run(r, "restore_time") for r in base) == [10.0, 12.0]
    noisy = compare.compare(base, runs.load_runs(tmp_path / "mixed"), rule)
    row = next(r for r in noisy.rows if r.metric == "restore_time")
    assert row.verdict == "noise" and not row.regression and noisy.exit_code == 0
    slow = compare.compare(base, runs.load_runs(tmp_path / "slow"), rule)
    row = next(r for r in slow.rows if r.metric == "restore_time")
    assert row.verdict == "worse" and row.regression and slow.exit_code == 1


@pytest.mark.parametrize("rule", ["restore_time", "restore_time:10%", "x:+1"])
def test_bad_rules_are_one_line_errors(rule):
    out = _cli("compare", str(RUNS / "baseline"), str(RUNS / "slow"), "--fail", rule)
    assert out.returncode == 2 and out.stderr.startswith("replaybench: --fail")
    assert len(out.stderr.strip().splitlines()) == 1


def test_history_flags_the_step(tmp_path):
    for run in [*(RUNS / "baseline").iterdir(), *(RUNS / "slow").iterdir()]:
        shutil.copytree(run, tmp_path / run.name)
    out = _cli("history", str(tmp_path), "--metric", "restore_time", "--workload", "restore-storm")
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 5 and not any(ln.endswith("regression") for ln in lines[:3])
    assert lines[3].endswith("regression") and lines[4].endswith("regression")
    assert out.returncode == 1  # the newest run is still far above the runs before it
    quiet = _cli("history", str(RUNS / "baseline"), "--metric", "restore_time")
    assert quiet.returncode == 0 and "regression" not in quiet.stdout
    bad = _cli("history", str(tmp_path), "--metric", "storm.produce.p42")
    assert bad.returncode == 2 and "unknown metric 'storm.produce.p42'" in bad.stderr


def test_plan_answers_from_a_sweep_and_warns_on_extrapolation(tmp_path):
    sweep = runs.load_runs(RUNS / "sweep")
    assert sorted(r.tags["storm.readers"] for r in sweep) == ["1", "2", "4"]
    modest = plan.make_plan(sweep, 2e9, 60.0)
    assert modest.readers is not None and modest.restore_time_s <= 60.0
    assert modest.headroom_s == pytest.approx(60.0 - modest.restore_time_s)
    assert modest.live_p99_ms is not None and not modest.warnings
    huge = plan.make_plan(sweep, plan.parse_size("2TiB"), plan.parse_duration("15m"))
    assert any("out of reach" in w or "extrapolating" in w for w in huge.warnings)
    out = _cli("plan", "--results", str(RUNS / "sweep"), "--state-size", "2TiB", "--rto", "15m",
               "--out", str(tmp_path))
    assert out.returncode == 0 and "warning:" in out.stdout
    assert (tmp_path / "plan.parquet").exists() and (tmp_path / "plan.csv").read_text().count("\n") == 2


def test_plan_inputs_are_checked():
    with pytest.raises(plan.PlanError, match=r"--state-size '2 parsecs'"):
        plan.parse_size("2 parsecs")
    with pytest.raises(plan.PlanError, match=r"--rto 'soon'"):
        plan.parse_duration("soon")
    assert plan.parse_size("2TiB") == 2 * 2**40 and plan.parse_rate("200MB/s") == 200e6


def test_report_draws_its_charts_in_a_real_browser(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is required (Debian package chromium; .ci/run installs it)"
    out = tmp_path / "report.html"
    report.write([*runs.load_runs(RUNS / "baseline")[:2], *runs.load_runs(RUNS / "slow")[:1]], out)
    text = out.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=3000", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-charts="12"' in dom
    drawn = [d.split('"')[1] for d in dom.split('data-drawn=')[1:]]
    assert len(drawn) == 12
    assert all(int(w) > 0 and int(h) > 0 for w, h in (d.split("x") for d in drawn)), drawn


def test_a_monitored_runs_report_draws_the_platforms_series_on_the_same_axis(tmp_path):
    """A real broker-replacement run with --monitor: beside the run's own four charts, the
    brokers' bytes out, under-replicated partitions and brokers down, and the consumers' lag
    as the exporter showed it beside the true lag, drawn by a real browser."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    out = tmp_path / "report.html"
    [run] = runs.load_runs(RUNS / "monitored")
    report.write([run], out)
    text = out.read_text()
    for title in ("the platform&#x27;s bytes out (Prometheus)",
                  "under-replicated partitions and brokers down",
                  "live consumers&#x27; lag: the exporter&#x27;s and the true"):
        assert title in text, title
    assert "exporter (committed)" in text and "true (position taken)" in text
    urp = text.split("under-replicated partitions and brokers down")[-1].split("live consumers")[0]
    assert "fault_start" in urp   # the fault marked on the platform's own series
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--virtual-time-budget=3000", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert 'data-charts="7"' in dom
    drawn = [d.split('"')[1] for d in dom.split('data-drawn=')[1:]]
    assert len(drawn) == 7 and all(int(w) > 0 and int(h) > 0
                                   for w, h in (d.split("x") for d in drawn)), drawn


def test_an_exported_histogram_log_reads_back_with_plain_hdrhistogram(tmp_path):
    run = runs.load_runs(RUNS / "baseline")[0]
    out = tmp_path / "produce.hlog"
    assert interop.export_hdr_log(run, "producer", "ack_intended", out) >= 4
    reader = HistogramLogReader(str(out), HdrHistogram(1, 3_600_000_000_000, 3))
    storm = run.histogram("storm", "producer", "ack_intended")
    counts = []
    while (h := reader.get_next_interval_histogram()) is not None:
        counts.append(h.get_total_count())
    assert storm.count in counts and sum(counts) == sum(
        r["count"] for r in run.latency if r["role"] == "producer" and r["metric"] == "ack_intended")


def test_renamed_options_keep_their_old_spelling_for_one_release(tmp_path):
    run_dir = sorted((RUNS / "baseline").iterdir())[0]
    new = _cli("export-hdr", str(run_dir), "--histogram", "ack_intended", "-o", str(tmp_path / "a"))
    old = _cli("export-hdr", str(run_dir), "--metric", "ack_intended", "-o", str(tmp_path / "b"))
    assert new.returncode == old.returncode == 0, new.stderr + old.stderr
    assert (tmp_path / "a").read_text().count("\n") == (tmp_path / "b").read_text().count("\n")
    assert "--metric is now --histogram" in old.stderr and not new.stderr
    alias = _cli("check", "--help")
    assert alias.returncode == 0 and "--records" in alias.stdout


def test_an_omb_workload_imports_and_what_cannot_is_refused(tmp_path):
    omb = tmp_path / "omb.yaml"
    omb.write_text("name: 1 producer / 1 consumers on 1 topic\ntopics: 1\npartitionsPerTopic: 4\n"
                   "messageSize: 1024\npayloadFile: payload/payload-1Kb.data\n"
                   "subscriptionsPerTopic: 1\nconsumerPerSubscription: 1\nproducersPerTopic: 2\n"
                   "producerRate: 50000\nconsumerBacklogSizeGB: 0\ntestDurationMinutes: 15\n")
    out = _cli("workloads", "import-omb", str(omb), "-o", str(tmp_path / "w.yaml"))
    assert out.returncode == 0, out.stderr
    spec = workload.load(tmp_path / "w.yaml")
    assert (spec.live.producers, spec.live.rate_per_s, spec.live.value_bytes, spec.live.partitions,
            spec.phases.baseline_s, spec.storm.readers) == (2, 25000, 1024, 4, 900.0, 0)
    omb.write_text("topics: 1\nproducerRate: 0\n")
    bad = _cli("workloads", "import-omb", str(omb))
    assert bad.returncode == 2 and "producerRate: 0 cannot be imported" in bad.stderr
    assert "highest sustainable rate" in bad.stderr
    omb.write_text("topics: 1\nproducerRate: 100\nlingerMs: 3\n")
    assert "lingerMs: not an OMB workload field" in _cli("workloads", "import-omb", str(omb)).stderr
    omb.write_text("topics: 1\nproducerRate: 100\nproducerRate: 200\n")   # which one is meant?
    twice = _cli("workloads", "import-omb", str(omb))
    assert twice.returncode == 2 and "producerRate" in twice.stderr and "duplicate" in \
        twice.stderr, twice.stderr


# The shapes of OpenMessaging Benchmark's catalogue (its workloads/ folder) that were refused:
# several topics, a backlog drain, shell-style defaults.
OMB_MANY_TOPICS = ("name: 100 topics / 1 partition / 100b\ntopics: 100\npartitionsPerTopic: 1\n"
                   "messageSize: 100\nsubscriptionsPerTopic: 1\nproducersPerTopic: 1\n"
                   "producerRate: 50000\nconsumerBacklogSizeGB: 0\n"
                   "testDurationMinutes: ${ombTestDuration:-15}\n")
OMB_BACKLOG = ("name: 1 topic / 4 partitions / 1Kb / 2 GB backlog\ntopics: 1\n"
               "partitionsPerTopic: 4\nmessageSize: 1024\n"
               "payloadFile: payload/payload-1Kb.data\nsubscriptionsPerTopic: 2\n"
               "consumerPerSubscription: 2\nproducersPerTopic: 1\nproducerRate: 1000\n"
               "consumerBacklogSizeGB: ${ombBacklog:-2}\ntestDurationMinutes: 1\n")


def test_omb_catalogue_shapes_import(tmp_path, monkeypatch):
    many, backlog = tmp_path / "many.yaml", tmp_path / "backlog.yaml"
    many.write_text(OMB_MANY_TOPICS)
    backlog.write_text(OMB_BACKLOG)
    text = interop.import_omb(many, env={})
    spec = workload.from_dict(yaml.safe_load(text), "many")
    assert (spec.live.partitions, spec.live.producers, spec.live.rate_per_s) == (100, 1, 50000)
    assert spec.phases.baseline_s == 900.0 and "one live topic of 100 partitions" in text
    assert workload.from_dict(yaml.safe_load(interop.import_omb(
        many, env={"ombTestDuration": "2"})), "m").phases.baseline_s == 120.0
    spec = workload.from_dict(yaml.safe_load(interop.import_omb(backlog, env={})), "backlog")
    # the backlog is the changelog (2 GiB of 1 KiB records), drained by 2 restore groups of 2
    # readers while the producers go on appending
    assert spec.seed.records == 2 * (1 << 30) // 1032 and spec.seed.value_bytes == 1024
    assert (spec.storm.groups, spec.storm.readers, spec.storm.follow) == (2, 2, True)
    assert spec.live.topic == "changelog" and spec.topic.partitions == 4
    monkeypatch.delenv("ombTestDuration", raising=False)
    many.write_text(OMB_MANY_TOPICS.replace("${ombTestDuration:-15}", "${ombTestDuration}"))
    with pytest.raises(interop.OmbImportError, match="testDurationMinutes: .*not set"):
        interop.import_omb(many, env={})


@pytest.mark.slow(30)
@pytest.mark.cluster
def test_an_imported_omb_backlog_drain_runs_as_a_verified_restore(tmp_path, kafka1, cache_dir):
    from tests.engine_helpers import SHORT
    omb = tmp_path / "backlog.yaml"
    omb.write_text(OMB_BACKLOG)
    path = tmp_path / "imported.yaml"
    path.write_text(interop.import_omb(omb, env={"ombBacklog": "0.02"}))
    request = runner.RunRequest(path, cache_dir, SHORT, "smoke", bootstrap=kafka1.bootstrap,
                                results_dir=tmp_path / "results")
    out = runner.run(request)
    assert out.status == "completed", out.reason
    groups = out.record.groups
    assert len(groups) == 2 and all(g["records"] >= 2_000 for g in groups)
    assert out.summary.verification_passed and out.summary.checks > 0


def _with_verdicts(src: Path, dst: Path, restore: str = "cluster-bound",
                   storm: str = "no interference", reason: str = "") -> Path:
    """A fixture run copied with the verdicts a newer run stores (restore_groups columns and
    the summary's comparisons)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    shutil.copytree(src, dst)
    table = pq.read_table(dst / "restore_groups.parquet")
    table = table.append_column("verdict", pa.array([restore] * table.num_rows)) \
        .append_column("verdict_reasons", pa.array(["fetcher idle in its own back-off in 70 %"
                                                    " of samples"] * table.num_rows))
    pq.write_table(table, dst / "restore_groups.parquet")
    info = json.loads((dst / "manifest.json").read_text())
    info["summary"]["comparisons"] = [
        {"role": "producer", "stat": s, "reference": "overall", "verdict": storm, "reason": reason}
        for s in ("p99", "p99.9")]
    (dst / "manifest.json").write_text(json.dumps(info))
    return dst


def test_compare_refuses_to_judge_a_client_bound_restore(tmp_path):
    reps = sorted((RUNS / "baseline").iterdir())
    base = _with_verdicts(reps[0], tmp_path / "b")
    bound = _with_verdicts(sorted((RUNS / "slow").iterdir())[0], tmp_path / "c", "client-bound")
    out = _cli("compare", str(base), str(bound), "--fail", "restore_time:+10%")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "unjudged restore_time: contender c: client-bound restore: fetcher" in out.stdout
    assert "REGRESSION" not in out.stdout


def test_an_inconclusive_storm_verdict_marks_its_latency_rows(tmp_path):
    reps = sorted((RUNS / "baseline").iterdir())
    base = _with_verdicts(reps[0], tmp_path / "b")
    noisy = _with_verdicts(reps[1], tmp_path / "c", storm="inconclusive",
                           reason="generator-bound: sent - intended p99 40 ms against 50 ms")
    result = compare.compare(runs.load_runs(base), runs.load_runs(noisy),
                             [compare.Rule.parse("storm.produce.p99:+50%")])
    by_metric = {r.metric: r for r in result.rows}
    assert by_metric["storm.produce.p99"].verdict == "unjudged"
    assert "generator-bound" in by_metric["interference.produce.p99"].caveat
    assert by_metric["restore_time"].verdict != "unjudged" and result.exit_code == 2


def test_history_and_plan_leave_client_bound_runs_out(tmp_path):
    sweep = sorted((RUNS / "sweep").iterdir())
    marked = [_with_verdicts(p, tmp_path / "runs" / p.name,
                             "client-bound" if i == 0 else "cluster-bound")
              for i, p in enumerate(sweep)]
    points = history.history(runs.load_runs(tmp_path / "runs"), "restore_time")
    assert points[0].step == "unjudged" and "client-bound" in points[0].caveat
    made = plan.make_plan(runs.load_runs(tmp_path / "runs"), 1e9, 600)
    assert len(made.measured_readers) == len(marked) - 1
    assert any("client-bound" in w for w in made.warnings)


@pytest.mark.parametrize("args, expected", [
    (("compare", "A", "B", "--fail", "restore_time:-10%"),
     "restore_time is better when lower, so a regression is a rise: write restore_time:+10%"),
    (("compare", "A", "B", "--fail", "restore_mb_per_s:+10%"),
     "restore_mb_per_s is better when higher, so a regression is a fall"),
    (("history", "A", "--metric", "restore_time", "--window", "0"), "0 is not in the range x>=1"),
    (("sweep", "--vary", "storm.readers=1,2", "--repeat", "0"), "0 is not in the range x>=1"),
])
def test_analysis_input_that_could_never_work_is_refused(args, expected):
    args = tuple(str(RUNS / "baseline") if a in ("A", "B") else a for a in args)
    out = _cli(*args)
    assert out.returncode == 2 and expected in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
