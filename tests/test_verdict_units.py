"""The judges behind every headline figure, on synthetic inputs: the interference verdicts, the
client-bound restore verdict, the fetcher classification and the harness's own meters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from replaybench.format.histograms import LatencyHistogram, sparse_counts
from replaybench.meters.self_noise import HiccupMeter, HostSampler
from replaybench.roles.client_stats import fetch_state
from replaybench.verdicts import client_bound
from replaybench.verdicts.interference import PhaseLatency, judge_role

RNG = np.random.default_rng(7)


def _phase(ticks_ms: list[np.ndarray], generator_ms: float = 0.2) -> PhaseLatency:
    whole, gen, ticks = LatencyHistogram(), LatencyHistogram(), []
    for values in ticks_ms:
        tick = LatencyHistogram()
        for v in values:
            tick.record(int(v * 1e6))
            whole.record(int(v * 1e6))
            gen.record(int(generator_ms * 1e6))
        ticks.append(sparse_counts(tick))
    return PhaseLatency(whole, ticks, gen, LatencyHistogram())


def _quiet(n_ticks: int, per_tick: int = 2000, scale: float = 1.0) -> list[np.ndarray]:
    return [scale * RNG.lognormal(1.5, 0.4, per_tick) for _ in range(n_ticks)]


def _overall(rows, stat="p99"):
    return next(r for r in rows if r.stat == stat and r.reference == "overall")


def test_storm_like_its_references_is_no_interference():
    rows = judge_role("producer", {"baseline": _phase(_quiet(10)), "storm": _phase(_quiet(5)),
                                   "recovery": _phase(_quiet(5))})
    verdict = _overall(rows)
    assert verdict.verdict == "no interference", verdict.reason
    assert verdict.ci_low < 1.0 < verdict.ci_high


def test_a_stall_in_the_storm_is_interference_against_both_references():
    storm = _quiet(5)
    storm[2] = np.concatenate([storm[2], np.linspace(5, 1000, 1000)])  # a 1 s stall's backlog
    rows = judge_role("producer", {"baseline": _phase(_quiet(10)), "storm": _phase(storm),
                                   "recovery": _phase(_quiet(5))})
    assert {r.verdict for r in rows if r.stat == "p99"} == {"interference"}
    assert _overall(rows).ratio > 10


def test_a_late_generator_makes_it_inconclusive_not_interference():
    rows = judge_role("producer", {"baseline": _phase(_quiet(10)),
                                   "storm": _phase(_quiet(5, scale=3), generator_ms=25.0)})
    verdict = _overall(rows)
    assert verdict.verdict == "inconclusive" and "generator-bound" in verdict.reason


def test_a_storm_faster_than_a_disturbed_baseline_is_inconclusive():
    rows = judge_role("producer", {"baseline": _phase(_quiet(10, scale=4)),
                                   "storm": _phase(_quiet(5))})
    verdict = _overall(rows)
    assert verdict.verdict == "inconclusive" and "disturbed" in verdict.reason
    assert verdict.ratio < 0.5


def test_an_unstable_baseline_is_inconclusive():
    baseline = _quiet(10)
    for i in (1, 4, 7):
        baseline[i] = baseline[i] * 8     # a few slow seconds: the cleaner, a flush
    rows = judge_role("producer", {"baseline": _phase(baseline), "storm": _phase(_quiet(3, scale=2))})
    verdict = _overall(rows)
    assert verdict.verdict == "inconclusive" and "unstable" in verdict.reason


def test_a_p99_9_from_too_few_samples_is_inconclusive():
    rows = judge_role("producer", {"baseline": _phase(_quiet(3)), "storm": _phase(_quiet(3))})
    verdict = _overall(rows, "p99.9")
    assert verdict.verdict == "inconclusive" and "too few samples: 6,000" in verdict.reason


def test_references_that_disagree_are_inconclusive():
    storm = _quiet(5, scale=2)
    rows = judge_role("producer", {"baseline": _phase(_quiet(10)), "storm": _phase(storm),
                                   "recovery": _phase(_quiet(5, scale=2))})
    by_ref = {r.reference: r.verdict for r in rows if r.stat == "p99"}
    assert by_ref["baseline"] == "interference" and by_ref["recovery"] == "no interference"
    assert by_ref["overall"] == "inconclusive"


def test_restore_judge_names_each_client_limit():
    span = 2 * 10**9
    cluster = client_bound.judge({"fetch_samples": 40, "fetch_idle_samples": 4,
                                  "thread_cpu_ns": span // 2}, 1, span)
    assert cluster.verdict == "cluster-bound" and not cluster.reasons
    backoff = client_bound.judge({"fetch_samples": 40, "fetch_idle_samples": 30}, 1, span)
    assert backoff.verdict == "client-bound" and "back-off or parsing" in backoff.reasons[0]
    full = client_bound.judge({"fetch_samples": 40, "fetch_full_samples": 30}, 1, span)
    assert "queue full" in full.reasons[0]
    busy = client_bound.judge({"fetch_samples": 2, "thread_cpu_ns": 2 * span}, 2, span)
    assert busy.verdict == "client-bound" and "on CPU" in busy.reasons[0]


def test_a_saturated_load_machine_makes_the_restore_host_bound():
    span = 2 * 10**9
    counters = {"fetch_samples": 40, "fetch_idle_samples": 30, "cpu_ns": 4 * span}
    shared = client_bound.judge(counters, 4, span, host_idle_share=0.03, shared_host=True,
                                host_cores=2)
    assert shared.verdict == "host-bound"
    assert "saturated (3% idle" in shared.reasons[0] and "4.0 of its 2 cores" in shared.reasons[0]
    assert "cluster's servers" in shared.reasons[0]
    assert "back-off or parsing" in shared.reasons[1]          # the symptoms stay as evidence
    assert shared.evidence["host_idle_share"] == 0.03
    remote = client_bound.judge(counters, 4, span, host_idle_share=0.05, host_cores=8)
    assert remote.verdict == "host-bound" and "add load machines" in remote.reasons[0]
    # saturated, but by the servers: the readers took a quarter of it (a re-replication)
    servers = client_bound.judge({"fetch_samples": 40, "cpu_ns": span // 2}, 4, span,
                                 host_idle_share=0.02, shared_host=True, host_cores=2)
    assert servers.verdict == "cluster-bound" and servers.evidence["host_idle_share"] == 0.02
    idle_host = client_bound.judge(counters, 4, span, host_idle_share=0.5, shared_host=True)
    assert idle_host.verdict == "client-bound"
    unknown = client_bound.judge({"fetch_samples": 40}, 4, span, host_idle_share=None)
    assert unknown.verdict == "cluster-bound" and unknown.evidence["host_idle_share"] != 0.0


def _stats(fetchq: int, waitresp: int, state: str = "UP", leader: int = 1) -> dict:
    return {"brokers": {"127.0.0.1:9092/1": {"nodeid": 1, "waitresp_cnt": waitresp,
                                             "state": state},
                        "127.0.0.1:9092/bootstrap": {"nodeid": -1, "waitresp_cnt": 0, "state": "UP"}},
            "topics": {"t": {"partitions": {"0": {"leader": leader, "fetchq_cnt": fetchq},
                                            "-1": {"leader": -1, "fetchq_cnt": 0}}}}}


@pytest.mark.parametrize("stats, reading, expected", [
    (_stats(150_000, 1), {0}, "full"), (_stats(10, 0), {0}, "idle"),
    (_stats(10, 1), {0}, "fetching"), (_stats(10, 0), set(), ""), (_stats(10, 0), {5}, ""),
    # a leader that is down or unknown: waiting on the cluster, not the client's own pause
    (_stats(10, 0, state="CONNECT"), {0}, "fetching"), (_stats(10, 0, leader=-1), {0}, "fetching")])
def test_fetch_state_from_librdkafka_statistics(stats, reading, expected):
    assert fetch_state(stats, "t", reading, 100_000) == expected


@pytest.mark.alone
def test_hiccup_meter_sees_a_stopped_process():
    """A child process runs the meter; SIGSTOP for 0.5 s shows as a hiccup near 0.5 s."""
    code = ("import sys, time\nfrom replaybench.meters.self_noise import HiccupMeter\n"
            "from replaybench.format.histograms import LatencyHistogram\n"
            "m = HiccupMeter().start(); print('ready', flush=True); time.sleep(1.5)\n"
            "h = LatencyHistogram.from_blob(m.take()); print(h.hist.get_max_value(), h.count)")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    os.kill(child.pid, signal.SIGSTOP)
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGCONT)
    worst, count = map(int, child.communicate(timeout=10)[0].split())
    assert 0.4e9 <= worst <= 1.0e9
    assert count >= 100   # 10 ms wake-ups plus those the stop swallowed (corrected)


@pytest.mark.alone
def test_hiccup_meter_is_quiet_when_nothing_stalls():
    meter = HiccupMeter().start()
    time.sleep(0.3)
    hist = LatencyHistogram.from_blob(meter.take())
    meter.stop()
    assert hist.count >= 15 and hist.percentile(50.0) < 5_000_000


@pytest.mark.alone
def test_host_sampler_reports_shares_and_server_cpu():
    import psutil

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        sampler = HostSampler()
        sampler.sample({"spinner": busy.pid})
        before = sum(psutil.Process(busy.pid).cpu_times()[:2])
        time.sleep(0.5)
        sample = sampler.sample({"spinner": busy.pid, "gone": 2**22 + 1})
        after = sum(psutil.Process(busy.pid).cpu_times()[:2])
    finally:
        busy.kill()
        busy.wait()
    assert 0.0 <= sample["host_idle_share"] <= 1.0 and 0.0 <= sample["host_steal_share"] <= 1.0
    assert sample["servers"]["spinner"] > 0 and "gone" not in sample["servers"]
    assert abs(sample["servers"]["spinner"] / 1e9 - (after - before)) < 0.05


def test_a_reference_with_a_late_generator_is_left_out_not_the_storm():
    storm = _quiet(5)
    storm[2] = np.concatenate([storm[2], np.linspace(5, 1000, 1000)])
    rows = judge_role("producer", {"baseline": _phase(_quiet(10)), "storm": _phase(storm),
                                   "recovery": _phase(_quiet(5), generator_ms=10.0)})
    by_ref = {r.reference: r for r in rows if r.stat == "p99"}
    assert "generator-bound" in by_ref["recovery"].reason
    assert by_ref["overall"].verdict == "interference"
    assert by_ref["overall"].reason.startswith("baseline:")


def test_the_interval_holds_the_measured_ratio(monkeypatch):
    """Resampling a tail percentile that rests on a few ticks is biased low: an interval that
    ends below the measured ratio is widened to hold it."""
    from replaybench.verdicts import interference
    monkeypatch.setattr(interference, "ratio_interval", lambda *_a: (0.5, 0.8))
    rows = judge_role("producer", {"baseline": _phase(_quiet(10)), "storm": _phase(_quiet(5))})
    for row in rows:
        assert row.ci_low == 0.5 and row.ci_high == max(0.8, row.ratio) >= row.ratio


@given(values=st.lists(st.integers(0, 200), max_size=30), interval=st.integers(1, 40))
def test_hiccup_correction_matches_hdrh_record_corrected_value(values, interval):
    from replaybench.meters.self_noise import corrected
    expected = []
    for v in values:           # hdrh's record_corrected_value, value by value
        expected.append(v)
        missing = v - interval
        while missing >= interval:
            expected.append(missing)
            missing -= interval
    assert sorted(corrected(np.array(values, np.int64), interval).tolist()) == sorted(expected)


def test_interference_on_a_host_the_harness_saturated_says_whose_it_is():
    """The run's summary and its console table: an interference verdict measured while the
    restore was host-bound names the host, with the restore's evidence."""
    from rich.console import Console

    from replaybench.cli import display
    from replaybench.engine.runner import RunOutcome
    from replaybench.results import summary as summary_mod
    from replaybench.verdicts.interference import Comparison

    over = Comparison("producer", "p99", "overall", 8_000_000, 170_000_000, 21.2, 2.3, 36.3,
                      "interference", "baseline: storm p99 170.0 ms above the baseline band")

    class Record:
        groups = [{"verdict": "host-bound", "verdict_reasons": "the load machine's CPU was "
                   "saturated (0% idle during the restore); fetcher idle in 48%"}]

    [judged] = summary_mod._whose(Record(), [over])
    assert judged.verdict == "interference" and judged.reason.startswith(summary_mod.SATURATED)
    assert "0% idle" in judged.reason and "not the platform's" in judged.reason
    Record.groups = [{"verdict": "cluster-bound"}]
    assert summary_mod._whose(Record(), [over]) == [over]   # the platform's: unchanged

    figures = summary_mod.Summary([], {"baseline producer": {"p99_ns": 8_000_000,
                                                             "p99_9_ns": 9_000_000},
                                       "storm producer": {"p99_ns": 170_000_000,
                                                          "p99_9_ns": 180_000_000}},
                                  {"producer p99": 21.2}, [judged])
    console = Console(width=200, record=True)
    for table in display.summary_tables(RunOutcome(Path("r"), "completed", "", figures, None)):
        console.print(table)
    text = console.export_text()
    assert "interference (1)" in text and "(1) produce ack−intended p99: on a saturated host" \
        in text


def test_a_faults_cost_is_judged_over_alternated_pairs():
    from replaybench.verdicts import fault_cost
    one = fault_cost.judge([(15_000, 10_000)])
    assert one["median"] == 1.5 and one["verdict"].startswith("inconclusive: 1 pair")
    slower = fault_cost.judge([(15, 10), (13, 10), (20, 10)])
    assert (slower["median"], slower["low"], slower["high"]) == (1.5, 1.3, 2.0)
    assert slower["verdict"].startswith("slower with the faults in every pair: 1.50×")
    straddle = fault_cost.judge([(15, 10), (9, 10), (12, 10)])
    assert "straddle 1.0" in straddle["verdict"] and "too wide" in straddle["verdict"]
    stuck = fault_cost.judge([(0, 10), (12, 10)])
    assert (stuck["pairs"], stuck["usable_pairs"]) == (2, 1)


def test_repeat_alternates_reference_and_faulted_runs_and_stores_the_cost(tmp_path, monkeypatch):
    """The loop around the pairs, with each pair faked (the pair itself is a real run in
    test_run_cli.py)."""
    import json

    from replaybench.engine import runner
    calls = []
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("{}")

    def pair(request, display, index):
        calls.append(index)
        record = type("R", (), {"groups": [{"restore_time_ns": 12 + index, "mode": "verify"}]})
        return runner.RunOutcome(run_dir, "completed", "", None, record, reference_ns=10)
    monkeypatch.setattr(runner, "_pair", pair)
    request = runner.RunRequest(runner.workload.path_for("broker-replacement"), tmp_path,
                                repeat=3)
    out = runner.run(request)
    assert calls == [0, 1, 2]
    assert out.fault_cost["ratios"] == [1.2, 1.3, 1.4]
    assert json.loads((run_dir / "manifest.json").read_text())["fault_cost"]["median"] == 1.3


def test_a_consumers_lag_is_counted_from_the_position_it_took_not_its_last_commit():
    """librdkafka's consumer_lag counts from the committed offset (-1 before any commit); the
    tick's lag is the true one, from the position the application has taken."""
    import json

    from replaybench.roles.client_stats import summarize
    parts = {"0": {"consumer_lag": -1, "consumer_lag_stored": 42},
             "1": {"consumer_lag": 900, "consumer_lag_stored": 8},
             "-1": {"consumer_lag_stored": 5000}}   # librdkafka's unassigned partition
    stats = {"topics": {"live": {"partitions": parts}}}
    assert summarize(json.dumps(stats))["client_lag_records"] == 50
    older = {"topics": {"live": {"partitions": {"0": {"consumer_lag": 7}}}}}
    assert summarize(json.dumps(older))["client_lag_records"] == 7
