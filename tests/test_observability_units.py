"""The monitoring checks on series written here (no Prometheus: the real one is in
test_monitoring_real.py): they must find what did not show, not only what did."""

from __future__ import annotations

from replaybench.verdicts import observability as obs

S = 1_000_000_000
BASELINE, STORM = (0, 10 * S), (10 * S, 30 * S)


def _series(values: list[float], start_s: int = 0) -> list[tuple[int, float]]:
    return [((start_s + i) * S, v) for i, v in enumerate(values)]


def test_a_restore_that_doubles_bytes_out_shows_and_says_how_late():
    bytes_out = _series([1e6] * 14 + [9e6] * 16)          # rises 4 s into the storm
    row = obs.restore_showed(bytes_out, BASELINE, STORM)
    assert row["passed"] is True and row["delay_ns"] == 4 * S
    assert "showed 4.0 s after the start" in row["reason"]


def test_a_restore_the_metrics_never_show_or_show_late_fails():
    flat = obs.restore_showed(_series([1e6] * 30), BASELINE, STORM)
    assert flat["passed"] is False and flat["seen_ns"] is None
    assert flat["reason"].startswith("never showed")
    late = obs.restore_showed(_series([1e6] * 28 + [9e6] * 2), BASELINE, STORM,
                              obs.Limits(within_s=10))
    assert late["passed"] is False and late["delay_ns"] == 18 * S
    assert "later than 10 s" in late["reason"]


def test_without_series_or_a_baseline_the_restore_is_not_judged():
    assert obs.restore_showed([], BASELINE, STORM)["passed"] is None
    assert obs.restore_showed(_series([5e6] * 5, start_s=20), BASELINE, STORM)["passed"] is None


def test_a_broker_that_went_away_and_came_back_showed_and_cleared():
    up = _series([1] * 12 + [0] * 5 + [1] * 13)
    row = obs.fault_showed("fault 0 replace broker-2", up, _series([0] * 30), 10 * S, 30 * S)
    assert row["passed"] is True and row["delay_ns"] == 2 * S and row["cleared"] is True


def test_under_replicated_partitions_count_as_showing_a_fault():
    urp = _series([0] * 13 + [4] * 6 + [0] * 11)
    row = obs.fault_showed("fault 0 kill broker-3", _series([1] * 30), urp, 10 * S, 30 * S)
    assert row["passed"] is True and row["delay_ns"] == 3 * S


def test_a_fault_that_never_showed_or_never_cleared_fails():
    quiet = obs.fault_showed("fault 0 pause broker-1", _series([1] * 30), _series([0] * 30),
                             10 * S, 30 * S)
    assert quiet["passed"] is False and quiet["reason"].startswith("never showed")
    stuck = obs.fault_showed("fault 0 kill broker-1", _series([1] * 12 + [0] * 18),
                             _series([0] * 30), 10 * S, 30 * S)
    assert stuck["passed"] is False and stuck["cleared"] is False
    assert "not cleared by the end of the run" in stuck["reason"]


def test_a_migrations_fault_is_judged_on_the_broker_of_its_side():
    """A migration's servers are named by side: a freeze of target-broker-1 is read from that
    server's `up`, not the source's; a fault on the mirror is not a broker's."""
    rows = [{"metric": "up", "server": server, "t_ns": t, "value": v}
            for server, values in (("source-broker-1", [1] * 30),
                                   ("target-broker-1", [1] * 12 + [0] * 3 + [1] * 15))
            for t, v in _series(values)]
    faults = [{"drill": 1, "action": "pause", "target": "target-broker-1", "started_ns": 10 * S},
              {"drill": 0, "action": "kill", "target": "mirror", "started_ns": 5 * S}]
    [check] = obs.judge_run(rows, {}, faults, 30 * S)
    assert check["subject"] == "fault 1 pause target-broker-1"
    assert check["passed"] is True and check["delay_ns"] == 2 * S and check["cleared"] is True
    source = obs.judge_run(rows, {}, [{**faults[0], "target": "source-broker-1"}], 30 * S)
    assert source[0]["passed"] is False   # the source's broker never went away


def test_a_fault_on_a_platform_without_broker_metrics_is_not_judged():
    assert obs.fault_showed("fault 0 kill broker-1", [], [], 10 * S, 30 * S)["passed"] is None


def _run(*args: str, env: dict | None = None):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "replaybench", "run", *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_monitor_without_prometheus_or_on_an_external_cluster_is_one_line_before_anything(
        tmp_path):
    import os
    external = _run("--bootstrap", "127.0.0.1:1", "--monitor")
    assert external.returncode == 2 and external.stderr.count("\n") == 1
    assert "--monitor watches the servers of an embedded cluster" in external.stderr
    bare = _run("--monitor", "--results", str(tmp_path),
                env={**os.environ, "PATH": "/nonexistent"})
    assert bare.returncode == 2 and bare.stderr.count("\n") == 1, bare.stderr
    assert "--monitor needs a Prometheus server: apt-get install prometheus" in bare.stderr
    assert not list(tmp_path.iterdir())   # nothing started, nothing written


def test_a_platform_without_broker_metrics_is_judged_on_its_object_store():
    rows = [{"metric": "s3_bytes_sent_per_s", "server": "s3", "t_ns": t, "value": v}
            for t, v in _series([4e5] * 12 + [9e6] * 18)]
    [check] = obs.judge_run(rows, {"baseline": BASELINE, "storm": STORM}, [], 30 * S)
    assert check["check"] == "restore showed in the object store's bytes sent"
    assert check["passed"] is True and check["delay_ns"] == 2 * S
    broker = rows + [{"metric": "bytes_out_per_s", "server": "broker-1", "t_ns": t, "value": 1e6}
                     for t, _ in _series([0] * 30)]
    [flat] = obs.judge_run(broker, {"baseline": BASELINE, "storm": STORM}, [], 30 * S)
    assert flat["check"] == "restore showed in bytes out" and flat["passed"] is False


def test_a_teams_prometheus_or_query_file_that_cannot_be_used_is_one_line_before_anything(
        tmp_path):
    import pytest

    from replaybench.clusters.ports import free_ports
    from replaybench.engine import platform_watch
    from replaybench.errors import UsageError
    good = tmp_path / "queries.yaml"
    good.write_text("bytes_out_per_s: sum by (server) (rate(x[6s]))\n")
    secret = tmp_path / "passwords.txt"
    secret.write_text("admin-password: hunter2\n")
    listing = tmp_path / "list.yaml"
    listing.write_text("- up\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("up:\n")
    nobody = f"http://127.0.0.1:{free_ports(1)[0]}"
    cases = [
        ("127.0.0.1:9090", good, "--prometheus '127.0.0.1:9090': expected an http:// or "
                                 "https:// URL"),
        (nobody, tmp_path / "none.yaml",
         f"{tmp_path / 'none.yaml'}: cannot read the queries (No such file or directory)"),
        (nobody, listing, f"{listing}: expected a mapping"),
        (nobody, empty, f"--prometheus-queries {empty}: up: expected a PromQL expression"),
        (nobody, good, f"--prometheus {nobody}: not ready (GET /-/ready did not answer 200 "
                       "within 5 s)"),
        # a file given by mistake: its keys are not query names, and nothing of it is quoted
        (nobody, secret, f"--prometheus-queries {secret}: a key that is not a query name"),
    ]
    for url, queries, expected in cases:
        with pytest.raises(UsageError) as refused:
            platform_watch.existing(url, queries)
        assert expected in str(refused.value) and "\n" not in str(refused.value)
        assert "hunter2" not in str(refused.value) and "admin" not in str(refused.value)
    # from the command line: one line, exit 2, before anything starts
    for args, expected in [
            (("--prometheus", nobody), "--prometheus and --prometheus-queries go together"),
            (("--prometheus", nobody, "--prometheus-queries", str(good), "--monitor"),
             "give --monitor (a Prometheus started for the run) or --prometheus"),
            (("--prometheus", nobody, "--prometheus-queries", str(secret)),
             "a key that is not a query name")]:
        out = _run("--bootstrap", "127.0.0.1:1", "--results", str(tmp_path / "results"), *args)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, (args, out.stderr)
        assert expected in out.stderr and "hunter2" not in out.stderr + out.stdout
    assert not list((tmp_path / "results").rglob("*"))   # nothing started, no run written
