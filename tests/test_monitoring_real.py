"""--monitor against a real broker and a real Prometheus: the broker serves its own metrics
through the JMX exporter, Prometheus scrapes it for the run, and the stored series show the
restore and a broker frozen mid-storm, as the platform's own monitoring would have."""

from __future__ import annotations

import json

import pytest

from replaybench.engine import runner

from tests.engine_helpers import SHORT, WORKLOADS, manifest, table

PAUSE = "faults=[{action: pause, broker: 1, at_s: 1, duration_s: 6}]"
# a baseline of several 2 s scrapes: what the restore's bytes out is compared with
LONGER_BASELINE = "phases.baseline_s=8"


# alone: a broker starved of CPU by other tests' brokers answers its scrapes late, and a late
# scrape reads as the broker down
@pytest.mark.alone
def test_a_monitored_run_stores_the_brokers_series_and_sees_the_restore_and_the_freeze(
        cache_dir, tmp_path, ray_local):
    request = runner.RunRequest(WORKLOADS / "restore-storm.yaml", cache_dir,
                                (*SHORT, LONGER_BASELINE, PAUSE), "smoke",
                                results_dir=tmp_path / "results", reference=False, monitor=True)
    out = runner.run(request)
    assert out.status == "completed", out.reason
    info = manifest(out.run_dir)
    assert list(info["monitoring"]["targets"]) == ["broker-1"]

    series = table(out.run_dir, "platform_metrics")
    by_metric: dict[str, list[dict]] = {}
    for row in series:
        by_metric.setdefault(row["metric"], []).append(row)
    # Prometheus saw the broker for most of the run: every phase from the seed on has points
    assert {r["phase"] for r in by_metric["up"]} >= {"seed", "baseline", "storm", "drain"}
    out_bytes = by_metric["bytes_out_per_s"]
    storm_max = max(r["value"] for r in out_bytes if r["phase"] == "storm")
    baseline = [r["value"] for r in out_bytes if r["phase"] == "baseline"]
    assert baseline and storm_max > 2 * max(baseline), (storm_max, baseline)
    assert all(json.loads(r["labels"]) == {} and r["server"] == "broker-1" for r in out_bytes)

    fault = table(out.run_dir, "faults")[0]
    frozen = [r for r in by_metric["up"]
              if fault["started_ns"] <= r["t_ns"] <= fault["done_ns"] and r["value"] == 0]
    assert frozen, "a broker stopped for 6 s answered every scrape"

    checks = {r["subject"]: r for r in table(out.run_dir, "observability")}
    assert checks["restore"]["passed"] is True, checks["restore"]["reason"]
    freeze = checks["fault 0 pause broker-1"]
    assert freeze["passed"] is True and freeze["cleared"] is True, freeze["reason"]
    assert 0 < freeze["delay_ns"] <= 15e9
    assert freeze["seen_ns"] == min(r["t_ns"] for r in frozen)
