"""`replaybench cluster up|status|down` as a user runs them, from a shell."""

import subprocess
import sys

import pytest

from replaybench.clusters.processes import find_by_marker

from tests.kafka_helpers import create_topic, produce_range, read_all


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replaybench", *args],
                          capture_output=True, text=True, timeout=180)


@pytest.mark.slow(40)
def test_up_status_down(cluster_root):
    root = cluster_root / "cli"
    up = _cli("cluster", "up", "--dir", str(root))
    assert up.returncode == 0, up.stderr
    bootstrap = up.stdout.strip().splitlines()[-1]
    assert bootstrap.startswith("127.0.0.1:")
    try:
        create_topic(bootstrap, "cli-topic", 1, 1)
        acked: set[int] = set()
        produce_range(bootstrap, "cli-topic", 0, 100, acked)
        assert sorted(read_all(bootstrap, "cli-topic", 1)) == list(range(100))

        status = _cli("cluster", "status", "--dir", str(root))
        assert status.returncode == 0
        assert status.stdout.splitlines() == ["broker 1: up", bootstrap]

        again = _cli("cluster", "up", "--dir", str(root))
        assert again.returncode == 2
        assert f"a cluster already runs in {root}" in again.stderr
    finally:
        down = _cli("cluster", "down", "--dir", str(root))
    assert down.returncode == 0
    assert down.stdout.strip() == "stopped 1 broker(s)"
    assert find_by_marker(str(root)) == []
    after = _cli("cluster", "status", "--dir", str(root))
    assert after.returncode == 1
    assert after.stdout.splitlines()[0] == "broker 1: down"
    # The stopped cluster's folder is ours: a new cluster may take it over.
    reused = _cli("cluster", "up", "--dir", str(root))
    try:
        assert reused.returncode == 0, reused.stderr
    finally:
        _cli("cluster", "down", "--dir", str(root))


@pytest.mark.cluster   # on the old code it started one
def test_up_refuses_a_folder_it_did_not_create(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    up = _cli("cluster", "up", "--dir", str(root))
    assert up.returncode == 2, up.stderr
    assert up.stderr.strip().endswith("refusing to use it, pick an empty or new --dir")
    assert (root / "notes.txt").read_text() == "keep me"
    assert find_by_marker(str(root)) == []


def test_status_without_a_cluster_is_one_line(tmp_path):
    result = _cli("cluster", "status", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"replaybench: no cluster recorded in {tmp_path} (no cluster.json)"


@pytest.mark.cluster
def test_check_restores_and_verifies_on_an_embedded_cluster():
    result = _cli("smoke", "--keys", "2000", "--records", "20000")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("seeded 20,000 records")
    assert lines[2].startswith("restored 20,000 records")
    assert lines[3].startswith("verification: exact")
