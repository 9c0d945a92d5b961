"""`replaybench run` end to end against a real broker: what lands in the Parquet files must
agree with the broker's own offsets and with the stored histograms."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys

import pytest
from hdrh.histogram import HdrHistogram

from replaybench.engine import runner
from replaybench.errors import ClusterError
from replaybench.kafka.topics import TopicError
from replaybench.roles.restore_reader import end_offsets

from tests.engine_helpers import WORKLOADS, manifest, run_smoke, table
from tests.kafka_helpers import create_topic


def _by(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


@pytest.mark.slow(29)
def test_restore_storm_results_agree_with_the_broker(kafka1, cache_dir, tmp_path, ray_local):
    out = run_smoke(kafka1, cache_dir, tmp_path, "restore-storm")
    assert out.status == "completed", out.reason
    run_dir = out.run_dir
    info = manifest(run_dir)
    assert info["status"] == "completed" and info["schema_version"] == 1
    assert info["workload"]["name"] == "restore-storm" and info["workload"]["scale"] == "smoke"
    changelog, live = sorted(info["cluster"]["topics"], key=len)
    assert info["cluster"]["topics"][changelog]["cleanup.policy"] == "compact"

    cfg = {"bootstrap.servers": kafka1.bootstrap}
    changelog_end = sum(end_offsets(cfg, changelog, 8).values())
    live_end = sum(end_offsets(cfg, live, 4).values())
    groups = table(run_dir, "restore_groups")
    assert len(groups) == 1 and groups[0]["records"] == groups[0]["target_records"] == changelog_end
    assert changelog_end == 30_000 * 10  # smoke: a tenth of the file's 3 M records
    parts = table(run_dir, "restore_partitions")
    assert sum(p["records"] for p in parts) == changelog_end
    assert {p["partition"] for p in parts} == set(range(8))
    assert all(p["end_offset"] > 0 and p["done_ns"] >= p["started_ns"] for p in parts)
    assert groups[0]["restore_time_ns"] == groups[0]["caught_up_ns"] - groups[0]["started_ns"] > 0
    # the native consumer, built by pip from the project alone (no librdkafka header installed)
    assert groups[0]["reader_client"] == "native" == out.summary.groups[0].client

    ts = table(run_dir, "timeseries")
    assert sum(r["records"] for r in _by(ts, role="producer")) == live_end
    assert sum(r["records"] for r in _by(ts, role="consumer")) == live_end
    assert sum(r["records"] for r in _by(ts, role="reader")) == changelog_end
    assert {r["phase"] for r in ts} >= {"seed", "warmup", "baseline", "storm", "recovery", "drain"}

    # Every summary row is what its own stored HDR blob says, read with plain hdrhistogram.
    for row in table(run_dir, "latency"):
        hist = HdrHistogram(1, 3_600_000_000_000, 3)
        hist.decode_and_add(base64.b64encode(row["hdr_v2"]))
        assert hist.get_total_count() == row["count"] > 0
        for col, p in (("p50_ns", 50), ("p99_ns", 99), ("p99_9_ns", 99.9), ("p99_99_ns", 99.99)):
            assert row[col] == hist.get_value_at_percentile(p), (row["phase"], row["metric"], col)
        assert row["max_ns"] == hist.get_max_value()
    lat = {(r["phase"], r["role"], r["metric"]): r for r in table(run_dir, "latency")}
    assert sum(lat[(p, "producer", "ack_intended")]["count"] for p in
               ("warmup", "baseline", "storm", "recovery", "drain")) == live_end

    checks = table(run_dir, "verification")
    assert checks and all(c["passed"] for c in checks)
    assert _by(checks, check="missing_keys")[0]["observed"] == 0
    kinds = [e["kind"] for e in table(run_dir, "events")]
    # storm.readers: auto, two readers per core this process may use (at most the 8 partitions)
    cores = len(os.sched_getaffinity(0))
    readers = min(2 * cores, 8)
    chosen = info["workload"]["readers"]
    assert (chosen["readers"], chosen["asked"], chosen["cores"]) == (readers, "auto", cores)
    assert kinds.count("reader_caught_up") == readers == groups[0]["readers"]
    assert "group_caught_up" in kinds
    assert out.summary.groups[0].restore_time_s > 0 and out.summary.verification_passed
    _rejudged(run_dir, groups[0]["verdict"], tmp_path)


def _rejudge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replaybench", "rejudge", *args],
                          capture_output=True, text=True, timeout=120)


def _rejudged(run_dir, stored_bound_by: str, tmp_path) -> None:
    """The run judged again from its files: as stored, every verdict comes out as the run
    wrote it (interference to the reason and the interval); with lines of the team's own, the
    judges follow them."""
    from replaybench.analysis.rejudge import rejudge
    from replaybench.analysis.thresholds import Thresholds
    from replaybench.results.runs import load_run
    from replaybench.results.stored_record import load_record
    from replaybench.results.summary import summarize
    again = _rejudge(str(run_dir), "--all")
    assert again.returncode == 0 and "none changed" in again.stdout, again.stdout + again.stderr
    rows = rejudge(load_run(run_dir), Thresholds())
    assert len(rows) >= 1 + len(table(run_dir, "verification")) + 1 + 12
    stored = table(run_dir, "interference")
    run = load_run(run_dir)
    now = [c.__dict__ for c in summarize(load_record(run_dir, run.manifest)).comparisons]
    assert now == stored

    lines = tmp_path / "lines.yaml"
    lines.write_text("restore_judge: {host_idle_min: 1.0e-9, idle_share_max: 1.0e9,\n"
                     "  full_share_max: 1.0e9, busy_share_max: 1.0e9}\n"
                     "interference_judge: {min_samples_factor: 1.0e-9, generator_share: 1.0e9,\n"
                     "  margin: 1.0e9, spread_max: 1.0e9}\n")
    loose = _rejudge(str(run_dir), "--thresholds", str(lines), "--all")
    assert "group 0 bound by" in loose.stdout
    bound_by = next(line for line in loose.stdout.splitlines() if "group 0 bound by" in line)
    assert bound_by.split()[-1] == "cluster-bound"
    interference = [line for line in loose.stdout.splitlines() if "interference " in line]
    assert len(interference) == 12 and all(line.endswith("no interference")
                                           for line in interference), interference
    assert loose.returncode == (0 if stored_bound_by == "cluster-bound" and all(
        c["verdict"] == "no interference" for c in stored) else 1)


@pytest.mark.slow(28)
def test_moving_target_counts_appended_records(kafka1, cache_dir, tmp_path, ray_local):
    out = run_smoke(kafka1, cache_dir, tmp_path, "moving-target", "storm.readers=2")
    assert out.status == "completed", out.reason
    targets = json.loads(_by(table(out.run_dir, "events"), kind="targets")[0]["detail"])["offsets"]
    parts = table(out.run_dir, "restore_partitions")
    # Caught up past the storm-start offsets: records appended during the storm were restored
    # and verified too.
    assert sum(p["end_offset"] for p in parts) > sum(targets.values())
    assert all(c["passed"] for c in table(out.run_dir, "verification"))


def test_staggered_groups_restore_independently(kafka1, cache_dir, tmp_path, ray_local):
    out = run_smoke(kafka1, cache_dir, tmp_path, "cold-restore", "storm.groups=2",
                    "storm.stagger_s=1", "storm.readers=2", "seed.records=30000")
    assert out.status == "completed", out.reason
    groups = sorted(table(out.run_dir, "restore_groups"), key=lambda g: g["group"])
    assert [g["records"] for g in groups] == [30_000, 30_000]
    assert groups[1]["started_ns"] - groups[0]["started_ns"] >= 900_000_000


def test_an_actor_crash_fails_the_run_and_keeps_what_was_measured(kafka1, cache_dir, tmp_path,
                                                                  ray_local):
    class KillProducerInBaseline(runner.Display):
        def tick(self, progress):
            if progress.phase == "baseline":
                os.kill(int(progress.placement["producer-0"]["pid"]), signal.SIGKILL)

    out = run_smoke(kafka1, cache_dir, tmp_path, "restore-storm", display=KillProducerInBaseline())
    assert out.status == "failed" and "producer-0" in out.reason
    info = manifest(out.run_dir)
    assert info["status"] == "failed" and "producer-0" in info["reason"]
    ts = table(out.run_dir, "timeseries")
    assert _by(ts, role="seeder") and _by(ts, role="producer", phase="warmup")
    assert _by(table(out.run_dir, "events"), kind="error")


@pytest.mark.cluster   # starts Ray
def test_unreachable_bootstrap_is_one_clear_error(cache_dir, tmp_path):
    from replaybench.clusters.ports import free_ports
    port = free_ports(1)[0]
    request = runner.RunRequest(WORKLOADS / "restore-storm.yaml", cache_dir,
                                bootstrap=f"127.0.0.1:{port}", results_dir=tmp_path)
    with pytest.raises(ClusterError, match=rf"cannot reach the cluster at 127.0.0.1:{port} within 10 s"):
        runner.run(request)
    assert not any(tmp_path.iterdir())  # nothing was measured, so no run directory


def test_an_existing_topic_is_refused_unless_recreate_is_asked(kafka1, cache_dir, tmp_path,
                                                                ray_local):
    create_topic(kafka1.bootstrap, "rb-taken", 3, 1)
    with pytest.raises(TopicError, match=r"topic rb-taken already exists with 3 partitions "
                                         r"\(the workload wants 8\); pass --recreate-topics"):
        run_smoke(kafka1, cache_dir, tmp_path, "cold-restore", "topic.name=rb-taken")
    request = runner.RunRequest(WORKLOADS / "cold-restore.yaml", cache_dir,
                                ("topic.name=rb-taken", "seed.records=20000", "seed.keys=5000"),
                                "smoke", bootstrap=kafka1.bootstrap, results_dir=tmp_path,
                                recreate_topics=True)
    out = runner.run(request)
    assert out.status == "completed", out.reason
    assert len(end_offsets({"bootstrap.servers": kafka1.bootstrap}, "rb-taken", 8)) == 8
