"""`replaybench compat` against real clusters: embedded Kafka passes the semantic checks across a
broker restart; a cleaner that is not given time fails compaction (and the exit code, and the
scorecard); Tansu refuses transactions; an unreachable cluster is one line. (The Kafka Streams
check runs in test_security_real.py, on a sasl_ssl cluster.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

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


@pytest.mark.slow(45)
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


@pytest.mark.slow(60)
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


def test_an_unreachable_cluster_is_one_line_and_nothing_is_written(tmp_path):
    done = _compat("--bootstrap", "127.0.0.1:1", "--results", str(tmp_path), timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "cannot reach the cluster at 127.0.0.1:1" in done.stderr
    assert not [p for p in tmp_path.iterdir()]
