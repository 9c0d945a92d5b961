"""The monitoring checks on series written here (no Prometheus: the real one is in
test_monitoring_real.py): they must find what did not show, not only what did."""

from __future__ import annotations

import json

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


def test_a_migrations_fault_is_judged_on_the_server_of_its_side():
    """A migration's servers are named by side: a freeze of target-broker-1 is read from that
    server's `up`, not the source's; a fault on the mirror from the mirror's own `up` (a
    mirror replicates no partition: the brokers' under-replicated ones do not show it)."""
    rows = [{"metric": "up", "server": server, "t_ns": t, "value": v}
            for server, values in (("source-broker-1", [1] * 30),
                                   ("target-broker-1", [1] * 12 + [0] * 3 + [1] * 15),
                                   ("mirror", [1] * 7 + [0] * 2 + [1] * 6))
            for t, v in _series(values)] + [
        {"metric": "under_replicated_partitions", "server": "target-broker-1", "t_ns": t,
         "value": v} for t, v in _series([0] * 5 + [3] * 2 + [0] * 23)]
    faults = [{"drill": 1, "action": "pause", "target": "target-broker-1", "started_ns": 10 * S},
              {"drill": 0, "action": "kill", "target": "mirror", "started_ns": 5 * S}]
    broker, mirror = obs.judge_run(rows, {}, faults, 30 * S)
    assert broker["subject"] == "fault 1 pause target-broker-1"
    assert broker["passed"] is True and broker["delay_ns"] == 2 * S and broker["cleared"] is True
    source = obs.judge_run(rows, {}, [{**faults[0], "target": "source-broker-1"}], 30 * S)
    assert source[0]["passed"] is False   # the source's broker never went away
    # the mirror's absence 2 s in; answering again after, its series then ended (stopped by
    # the schedule, no longer scraped): cleared
    assert mirror["subject"] == "fault 0 kill mirror"
    assert mirror["passed"] is True and mirror["delay_ns"] == 2 * S and mirror["cleared"] is True
    # the same mirror never seen down (the broker's under-replicated partitions at 5 s are
    # not its): never showed
    quiet = [r for r in rows if r["server"] != "mirror"] + [
        {"metric": "up", "server": "mirror", "t_ns": t, "value": 1.0} for t, _ in _series([1] * 15)]
    [_, unseen] = obs.judge_run(quiet, {}, faults, 30 * S)
    assert unseen["passed"] is False and unseen["reason"].startswith("never showed")
    # a mirror that never answered again before its series ended: not cleared
    gone = [r for r in rows if r["server"] != "mirror"] + [
        {"metric": "up", "server": "mirror", "t_ns": t, "value": v}
        for t, v in _series([1] * 7 + [0] * 8)]
    [_, stuck] = obs.judge_run(gone, {}, faults, 30 * S)
    assert stuck["passed"] is False and stuck["cleared"] is False
    # stopped by the schedule at 13 s: Prometheus still looked for a few seconds and found
    # nothing, which is not the fault's (the event says where its series ends)
    tail = [r for r in rows if r["server"] != "mirror"] + [
        {"metric": "up", "server": "mirror", "t_ns": t, "value": v}
        for t, v in _series([1] * 7 + [0] * 2 + [1] * 5 + [0] * 3)]
    stop = {"kind": "mirror_stopped", "t_ns": 13 * S,
            "detail": json.dumps({"mirror": "forward", "server": "mirror"})}
    assert obs.judge_run(tail, {}, faults, 30 * S)[1]["cleared"] is False
    [_, stopped] = obs.judge_run(tail, {}, faults, 30 * S, events=[stop])
    assert stopped["passed"] is True and stopped["cleared"] is True
    # a team's Prometheus not told of the mirror (or a run stored before mirrors were
    # scraped): no row for it, as such runs were judged
    blind = obs.judge_run([r for r in rows if r["server"] != "mirror"], {}, faults, 30 * S)
    assert [c["subject"] for c in blind] == ["fault 1 pause target-broker-1"]


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


# the live consumers' lag: the exporter's (committed offsets) against the true (position taken)
RATE = 2_000.0   # live records per second


def test_an_exporter_reading_a_few_seconds_of_commits_behind_tracks_the_true_lag():
    truth = _series([50.0] * 30)
    platform = _series([50.0 + RATE * (i % 5) for i in range(30)])   # commits every 5 s
    row = obs.lag_tracked(platform, truth, RATE)
    assert row["passed"] is True, row["reason"]
    assert row["error_p95_records"] == 4 * RATE and row["error_p95_s"] == 4.0
    assert "under the 10 s it takes to time the exporter" in row["reason"]   # they kept up


def test_an_exporter_far_off_or_late_or_blind_fails():
    truth = _series([0.0] * 10 + [60_000.0] * 20)    # the consumers fell 30 s behind at 10 s
    late = obs.lag_tracked(_series([0.0] * 28 + [60_000.0] * 2), truth, RATE)
    assert late["passed"] is False and late["delay_ns"] == 18 * S, late["reason"]
    prompt = obs.lag_tracked(_series([0.0] * 13 + [60_000.0] * 17), truth, RATE)
    assert prompt["passed"] is True and prompt["delay_ns"] == 3 * S, prompt["reason"]
    # an exporter that never saw the rise: 30 s of traffic off for most ticks
    flat = obs.lag_tracked(_series([0.0] * 30), truth, RATE, obs.Limits(within_s=100))
    assert flat["passed"] is False and flat["seen_ns"] is None
    off = obs.lag_tracked(_series([30_000.0] * 30), _series([0.0] * 30), RATE)
    assert off["passed"] is False and "more than 10 s of traffic off" in off["reason"]
    blind = obs.lag_tracked([], truth, RATE)   # the group's committed offsets never served
    assert blind["passed"] is False and "never showed" in blind["reason"]
    assert obs.lag_tracked([], [], RATE)["passed"] is None   # no live consumers: not judged


def test_the_run_judges_the_live_consumers_group_only_from_the_exporter_rows():
    tail = '{"consumergroup": "replaybench-tail-rb-x-live"}'
    other = '{"consumergroup": "some-other-app"}'
    rows = [{"metric": "consumer_group_lag", "server": "lag-exporter", "labels": labels,
             "t_ns": t, "value": v} for labels, value in ((tail, 100.0), (other, 1e9))
            for t, v in _series([value] * 30)]
    ticks = [{"role": role, "t_ns": t, "lag_records": 100, "records_per_s": RATE}
             for role in ("consumer", "producer") for t, _ in _series([0] * 30)]
    [lag] = obs.judge_run(rows, {}, [], 30 * S, ticks=ticks, asked={"consumer_group_lag"})
    assert lag["passed"] is True and lag["error_p95_records"] == 0, lag["reason"]
    # another run's tail group on the same cluster (left behind, 50 s of traffic behind): the
    # run's event names its own group, and only that one is read
    earlier = '{"consumergroup": "replaybench-tail-rb-y-live"}'
    shared = rows + [{"metric": "consumer_group_lag", "server": "lag-exporter",
                      "labels": earlier, "t_ns": t, "value": 50 * RATE} for t, _ in _series([0] * 30)]
    [summed] = obs.judge_run(shared, {}, [], 30 * S, ticks=ticks, asked={"consumer_group_lag"})
    assert summed["passed"] is False   # a run stored without the event: every tail group
    named = [{"kind": "live_group", "t_ns": 0,
              "detail": '{"group": "replaybench-tail-rb-x-live"}'}]
    [own] = obs.judge_run(shared, {}, [], 30 * S, ticks=ticks, asked={"consumer_group_lag"},
                          events=named)
    assert own["passed"] is True and own["error_p95_records"] == 0, own["reason"]
    # a team's Prometheus not asked for the lag: not judged, not failed
    assert obs.judge_run(rows, {}, [], 30 * S, ticks=ticks, asked={"up"}) == []


def test_an_alert_counts_for_a_fault_only_if_it_began_firing_after_it():
    fired = {"KafkaUnderReplicatedPartitions (broker-1)": 50 * S,
             "KafkaBrokerDown (broker-2)": 42 * S, "SomethingElse": 5 * S}
    row = obs.alert_fired("fault 0 kill broker-2", fired, 10 * S)
    assert row["passed"] is True and row["delay_ns"] == 32 * S
    assert row["reason"].startswith("KafkaBrokerDown (broker-2) fired 32.0 s after the start")
    assert "then KafkaUnderReplicatedPartitions (broker-1) at +40.0 s" in row["reason"]
    late = obs.alert_fired("fault 0 kill broker-2", fired, 10 * S, obs.Limits(alert_within_s=20))
    assert late["passed"] is False and "later than 20 s" in late["reason"]
    none = obs.alert_fired("fault 0 pause broker-1", {"SomethingElse": 5 * S}, 10 * S)
    assert none["passed"] is False and none["reason"] == \
        "no alert fired: it would have woken nobody"


def test_alerts_are_judged_only_when_prometheus_was_asked_for_them():
    rows = [{"metric": "up", "server": "broker-2", "labels": "{}", "t_ns": t, "value": v}
            for t, v in _series([1] * 12 + [0] * 18 + [1] * 30)]
    rows += [{"metric": "alerts_firing", "server": "broker-2", "t_ns": t, "value": 1.0,
              "labels": '{"alertname": "KafkaBrokerDown", "alertstate": "firing"}'}
             for t, _ in _series([1] * 10, start_s=44)]
    fault = [{"drill": 0, "action": "kill", "target": "broker-2", "started_ns": 10 * S}]
    subjects = {c["subject"]: c for c in obs.judge_run(rows, {}, fault, 60 * S,
                                                      asked={"alerts_firing"})}
    assert subjects["fault 0 kill broker-2: alert"]["delay_ns"] == 34 * S
    assert [c["subject"] for c in obs.judge_run(rows, {}, fault, 60 * S)] == \
        ["fault 0 kill broker-2"]
    # a platform whose brokers serve no metrics (Tansu): no series for a broker's alert to
    # read, so not judged, not "woke nobody"
    blind = [r for r in rows if r["metric"] != "up"]
    alert = obs.judge_run(blind, {}, fault, 60 * S, asked={"alerts_firing"})[1]
    assert alert["subject"] == "fault 0 kill broker-2: alert" and alert["passed"] is None


def test_a_moved_groups_lag_is_read_on_the_cluster_its_consumers_read():
    """A migration: the consumers read the source, leave at 10 s, join the target at 12 s.
    The source's exporter then shows the group it left falling behind for ever (nobody reads
    there); the check reads the target's, where the group is, and leaves the move out."""
    group = "rb-x-app"
    labels = json.dumps({"consumergroup": group})
    source = [100.0] * 10 + [100.0 + 5_000 * i for i in range(20)]   # abandoned after 10 s
    target = [100.0] * 30
    rows = [{"metric": "consumer_group_lag", "server": f"{side}-lag-exporter", "labels": labels,
             "t_ns": t, "value": v}
            for side, values in (("source", source), ("target", target))
            for t, v in _series(values)]
    ticks = [{"role": role, "t_ns": t, "lag_records": 100, "records_per_s": RATE}
             for role in ("consumer", "producer") for t, _ in _series([0] * 30)]
    events = [{"kind": "consumers_left", "t_ns": 10 * S, "detail": json.dumps({"leg": 0})},
              {"kind": "consumers_joined", "t_ns": 12 * S,
               "detail": json.dumps({"leg": 1, "group": group})}]
    [lag] = obs.judge_run(rows, {}, [], 30 * S, ticks=ticks, asked={"consumer_group_lag"},
                          events=events)
    assert lag["subject"] == "the moved group's lag"
    assert lag["passed"] is True and lag["error_p95_records"] == 0, lag["reason"]
    # the target's exporter blind to the group: it never showed where the consumers are
    blind = [r for r in rows if r["server"] == "source-lag-exporter"]
    [lag] = obs.judge_run(blind, {}, [], 30 * S, ticks=ticks, asked={"consumer_group_lag"},
                          events=events)
    assert lag["passed"] is False and "showed nothing for 17 of 28 ticks" in lag["reason"]
    # summed over both clusters, as a dashboard adding up a group's lag would, it is off
    summed = obs.lag_tracked(obs._group_lag(rows, lambda g: g == group),
                             [(t, 100.0) for t, _ in _series([0] * 30)], RATE)
    assert summed["passed"] is False and "more than 10 s of traffic off" in summed["reason"]


def test_a_watchers_cpu_counts_the_workers_it_started_again():
    """The lag exporter's supervisor reaps a worker that died and starts another: the dead
    one's CPU still counts in what watching cost."""
    import subprocess
    import sys

    from replaybench.engine.platform_watch import cpu_seconds
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys, time\n"
                               f"subprocess.run([sys.executable, '-c', {burn!r}])\n"
                               f"print('reaped', flush=True)\ntime.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "reaped"
        assert cpu_seconds(parent.pid) >= 0.4
    finally:
        parent.kill()
        parent.wait()
