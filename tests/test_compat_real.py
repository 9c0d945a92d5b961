"""`replaybench compat` against real clusters: embedded Kafka passes the semantic checks across a
broker restart; a cleaner that is not given time fails compaction (and the exit code, and the
scorecard); Tansu refuses transactions; the Kafka Streams application runs on the checked
cluster; an unreachable cluster is one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from replaybench.clusters.artifacts import default_cache_dir
from replaybench.clusters.opening import ClusterChoice
from replaybench.evaluation import compat
from replaybench.results import runs

pytestmark = pytest.mark.cluster

FAST = ("idempotent_producer,transactions,consume_transform_produce,consumer_groups,offsets,"
        "admin_api,operator_tools")


def _compat(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replaybench", "compat", *args],
                          capture_output=True, text=True, timeout=timeout)


def _rows(results: Path) -> tuple[dict, dict[str, dict]]:
    [folder] = [p for p in results.iterdir() if p.name.startswith("2")]
    manifest = json.loads((folder / "manifest.json").read_text())
    return manifest, {r["check"]: r for r in pq.read_table(folder / "compat.parquet").to_pylist()}


def test_embedded_kafka_keeps_every_semantic_a_stateful_job_relies_on(tmp_path):
    done = _compat("--checks", FAST, "--results", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest, rows = _rows(tmp_path)
    assert manifest["kind"] == "compat" and manifest["cluster"]["storage"] == "local-disk"
    assert {name: r["status"] for name, r in rows.items()} == dict.fromkeys(FAST.split(","), "pass")
    # the idempotent producer really went through a broker restart, and lost or doubled nothing
    idem = rows["idempotent_producer"]
    assert idem["scope"] == "across a broker restart mid-produce"
    assert "0 read twice, 0 missing, 0 out of order; 0 delivery errors" in idem["received"]
    assert "read_committed: 200 records, 0 from the aborted" in rows["transactions"]["received"]
    assert all(r["duration_ns"] > 0 and r["sent"] for r in rows.values())
    assert "operator_tools              pass" in done.stdout
    with pytest.raises(runs.RunsError, match="holds no runs"):   # a compat result is no run
        runs.load_runs(tmp_path)


def test_a_cleaner_not_given_time_fails_compaction_and_the_scorecard(tmp_path):
    done = _compat("--checks", "compaction", "--compaction-wait", "2", "--results", str(tmp_path))
    assert done.returncode == 1, done.stderr[-3000:]
    _, rows = _rows(tmp_path)
    assert rows["compaction"]["status"] == "fail"
    assert rows["compaction"]["received"].startswith("not compacted within 2 s")
    card = subprocess.run([sys.executable, "-m", "replaybench", "scorecard", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert card.returncode == 1 and "NO-GO" in card.stdout and "compaction: fail" in card.stdout


def test_tansu_refuses_transactions_and_that_is_unsupported_not_failed(tmp_path):
    done = _compat("--cluster", "s3", "--checks", "transactions", "--results", str(tmp_path),
                   timeout=1500)   # a first use builds Tansu
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest, rows = _rows(tmp_path)
    assert manifest["cluster"]["storage"] == "s3"
    assert rows["transactions"]["status"] == "unsupported"
    assert "EndTxn" in rows["transactions"]["broker_error"]


def test_the_kafka_streams_application_runs_on_the_checked_cluster(kafka1, tmp_path):
    request = compat.CompatRequest(ClusterChoice(default_cache_dir(), bootstrap=kafka1.bootstrap),
                                   tmp_path, checks=("kafka_streams",))
    outcome = compat.run(request, lambda _text: None)
    [row] = outcome.rows
    assert row["status"] == "pass", row
    assert "0 updates lost" in row["received"]
    # its run is stored with the compat result, in the same results format as any run
    [run] = runs.load_runs(outcome.compat_dir / "runs")
    assert run.manifest["status"] == "completed" and run.groups[0]["engine"] == "kafka-streams"


def test_an_unreachable_cluster_is_one_line_and_nothing_is_written(tmp_path):
    done = _compat("--bootstrap", "127.0.0.1:1", "--results", str(tmp_path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach the cluster at 127.0.0.1:1" in done.stderr
    assert not [p for p in tmp_path.iterdir()]
