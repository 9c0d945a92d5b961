"""Migrations between two real embedded Kafka clusters through a real MirrorMaker 2, run from
the command line as a user runs them, and judged from what the results hold: a drained cutover
and its rollback (the mirror killed mid catch-up) lose nothing and bring back what the trial
wrote; consumers moved without their offsets lose the records they skipped or read them again;
the same cluster on both sides is refused before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from replaybench.results import store

from tests.kafka_helpers import create_topic

# Each migration runs two clusters, MirrorMaker and the applications (1.9 GB of JVM heaps).
# Three run in the parallel suite (seen passing there beside the rest, with 3 and 4 workers on 2
# cores); the one whose checks on re-reads depend on how far MirrorMaker's offset syncs lag
# runs `alone`.
pytestmark = pytest.mark.cluster

# Short phases, frequent checkpoints: what a smoke migration needs to say something.
QUICK = ["migration.seed_s=2", "migration.mirrored_s=2", "migration.trial_s=3",
         "migration.back_s=2", "live.rate_per_s=300", "live.consumers=1",
         "migration.mirror.checkpoint_interval_s=2", "migration.mirror.sync_interval_s=2",
         "migration.mirror.refresh_s=2", "migration.cutover.wait_max_s=30",
         "migration.mirror.rebalance_delay_s=2"]
RUN_TIMEOUT_S = 420


def _run(tmp_path: Path, workload: str, *overrides: str,
         flags: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, Path | None]:
    results = tmp_path / "results"
    sets = [arg for o in (*QUICK, *overrides) for arg in ("--set", o)]
    proc = subprocess.run([sys.executable, "-m", "replaybench", "run", "--workload", workload,
                           "--results", str(results), *sets, *flags], capture_output=True,
                          text=True,
                          timeout=RUN_TIMEOUT_S, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    runs = sorted(p for p in results.glob("*") if p.is_dir()) if results.exists() else []
    return proc, (runs[-1] if runs else None)


def _rows(run_dir: Path, name: str) -> list[dict]:
    return store.read_table(run_dir, name).to_pylist()


def _totals(run_dir: Path) -> dict[str, dict]:
    return {r["step"]: r for r in _rows(run_dir, "migration") if r["partition"] == -1}


def _their_topic_and_group(bootstrap: str, topic: str, group: str) -> None:
    """A team's own topic, written with another client (no replaybench records: null keys,
    a tombstone, arbitrary bytes, then a transaction of 30 records on partition 0 that it
    aborted), and a group that read part of it and committed."""
    create_topic(bootstrap, topic, 3, 1)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(3000):
        key = None if i % 7 == 0 else f"k{i % 50}".encode()
        producer.produce(topic, None if i == 5 else f"v{i}".encode() * (i % 5 + 1), key,
                         partition=i % 3)
    producer.flush(30)
    txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-writer"})
    txn.init_transactions(30)
    txn.begin_transaction()
    for i in range(30):
        txn.produce(topic, b"never committed", f"k{i}".encode(), partition=0)
    txn.flush(30)   # on the broker first: aborting purges what the client still holds
    txn.abort_transaction(30)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    read = 0
    while read < 1200:
        read += len([m for m in consumer.consume(200, timeout=1.0) if m.error() is None])
    consumer.commit(asynchronous=False)
    consumer.close()


@pytest.mark.alone
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_a_drained_cutover_and_its_rollback_lose_nothing_with_the_mirror_killed_and_a_broker_frozen(
        tmp_path,
                                                                                 kafka1):
    """From an external cluster (a profile, unsecured) to an embedded one secured with
    sasl_ssl (each cluster its own security mode: every role and the mirror log in on the
    target as themselves, least privileged), with a topic and a group of the team's own
    mirrored beside the run's (the mirror reading it read_committed: the transaction the team
    aborted stays out of the copy), the mirror killed mid catch-up and the target's broker
    frozen during the trial. Alone: MirrorMaker's offset syncs fall behind when both
    cores are taken (in the parallel suite the rollback re-read 4,922 records), and the
    cutover's re-reads are held below to offset.lag.max per partition."""
    theirs, group = f"orders-{tmp_path.name[-12:]}", f"billing-{tmp_path.name[-12:]}"
    _their_topic_and_group(kafka1.bootstrap, theirs, group)
    profile = tmp_path / "source.yaml"
    profile.write_text(f"version: 1\nname: source\nbootstrap: {kafka1.bootstrap}\n")
    proc, run_dir = _run(tmp_path, "migration-rollback", f"migration.source={profile}",
                         f"migration.existing_topics=[{theirs}]",
                         f"migration.existing_groups=[{group}]",
                         "migration.mirror.read_committed=true",
                         "faults=[{action: kill, targets: [mirror], at_s: 4, duration_s: 2}, "
                         "{action: pause, targets: [target-broker-1], at_s: 0.5, duration_s: 3, "
                         "after_phase: trial}]",
                         # a trial long enough to hold the whole freeze while producers write
                         # the target: a tick late on a loaded machine (seen: 2.2 s after the
                         # trial began), 3 s of it fell past a 3 s trial, into the drain
                         "migration.trial_s=6",
                         # The freeze stops the reverse mirror's offset syncs (its source is
                         # the frozen broker): its checkpoints then translate back to the last
                         # sync before the freeze (seen: 565 and 595 records back on two
                         # partitions, 1,203 in all, past the default bound of 800). What
                         # this run holds to is below: nothing lost, every re-read counted.
                         "migration.cutover.max_duplicates=100000",
                         flags=("--security", "sasl_ssl"))
    info = json.loads((run_dir / "manifest.json").read_text()) if run_dir else {}
    # MirrorMaker does not always sync every partition of a group that committed before it
    # started (seen once in five runs: partition 1, committed at 200, never synced within
    # the 30 s wait, after the mirror was killed and restarted). The run must then fail on
    # exactly that check, naming it; nothing else may fail.
    failed = [c for c in _rows(run_dir, "verification") if not c["passed"]] if run_dir else []
    unsynced = [c for c in failed if c["check"] == "committed offset synced to the target"]
    assert proc.returncode == (1 if unsynced else 0), proc.stdout[-3000:] + proc.stderr[-3000:]
    assert failed == unsynced, failed
    if unsynced:
        assert info["status"] == "failed" and "committed offset synced" in info["reason"]
    assert info["migration"]["lost"] == 0 and info["migration"]["passed"]
    assert info["cluster"]["source"]["kind"] == "external"
    # the target's own authorizer: nothing denied to anyone; the copies made by the mirror's
    # principal, the trial's writes by the producers', the reads by the consumers'; the
    # offsets synced into the team's group by the mirror's (READ on that group only)
    target = info["cluster"]["target"]
    assert target["security"] == "sasl_ssl" and "access_seen" not in info["cluster"]["source"]
    seen = target["access_seen"]
    assert not [p for p, v in seen.items() if v.get("denied")], seen
    run_topic = f"rb-{info['run_id']}-orders"
    allowed = {p: set(v["allowed"]) for p, v in seen.items()}
    assert {f"CREATE Topic:{run_topic}", f"WRITE Topic:{run_topic}",
            f"CREATE Topic:{theirs}", f"READ Group:{group}"} <= allowed["User:mirror"]
    assert f"WRITE Topic:{run_topic}" in allowed["User:producer"]
    assert f"READ Topic:{run_topic}" in allowed["User:consumer"]
    writers = {p for p, a in allowed.items() if f"WRITE Topic:{run_topic}" in a}
    assert writers == {"User:mirror", "User:producer"}, writers
    # their topic: every record in the copy, in order; their group: never put past the
    # record its committed offset points to. (How far before is MirrorMaker's: a group that
    # committed before the mirror started is translated back to a coarse offset sync, seen
    # 199 records back on a partition where offset.lag.max is 100.)
    content = _rows(run_dir, "mirror_content")
    topics = [r for r in content if r["kind"] == "topic"]
    assert len(topics) == 3 and all(r["in_order"] and r["missing"] == 0 for r in topics)
    assert sum(r["source_records"] for r in topics) == 3000
    assert sum(r["source_aborted"] for r in topics) == 30    # on the source, not in the copy
    assert all(r["aborted_copied"] == 0 for r in topics)
    assert info["mirror"]["forward"]["source.consumer.isolation.level"] == "read_committed"
    groups = [r for r in content if r["kind"] == "group"]
    committed = {r["partition"] for r in groups}
    assert len(committed) >= 1 and all(r["committed_offset"] > 0 for r in groups)
    assert {f"group {r['name']}-{r['partition']}" for r in groups
            if r["synced_offset"] is None} == {c["scope"] for c in unsynced}
    assert all(r["translation_error"] <= 0 for r in groups if r["synced_offset"] is not None)
    totals = _totals(run_dir)
    assert set(totals) == {"cutover", "rollback"}
    cut = [r for r in _rows(run_dir, "migration") if r["step"] == "cutover"
           and r["partition"] >= 0]
    # MirrorMaker translates a group's offset to its last offset sync at or before it: the
    # group may read again, never skip, and no further back than offset.lag.max
    assert all(-100 <= r["translation_error"] <= 0 for r in cut), cut
    assert totals["cutover"]["duplicates"] == -totals["cutover"]["translation_error"]
    assert totals["cutover"]["switch_ns"] > 0 and totals["cutover"]["write_unavailable_ns"] > 0
    back = totals["rollback"]
    assert back["acked_before"] > 0 and back["acked_after"] > 0   # the trial wrote; so did "back"
    assert back["lost"] == 0 and back["mirror_missing"] == 0
    # the rollback re-reads what its translation put it back by, and no more than the trial
    # wrote (the reverse mirror started with the trial)
    assert back["duplicates"] == -back["translation_error"] <= back["acked_before"]
    assert all(t["mirror_missing"] == 0 for t in totals.values())
    # the faults happened: the mirror, killed, came back and finished the copy; the target's
    # broker, frozen in the trial, lost no write it acknowledged (lost 0 above)
    fault, broker = _rows(run_dir, "faults")
    assert fault["target"] == "mirror" and fault["started_ns"] and fault["done_ns"]
    assert broker["target"] == "target-broker-1" and broker["error"] == ""
    assert broker["trigger"] == "at_s=0.5 after_phase=trial" and broker["action"] == "pause"
    [killed] = [e for e in _rows(run_dir, "events") if e["kind"] == "fault_start"
                and "target-broker-1" in e["detail"]]
    assert killed["phase"] == "trial"
    # the producers writing the target waited for it (3 s frozen)
    assert broker["produce_p99_9_ns"] >= 2_000_000_000, broker
    mirror = [r for r in _rows(run_dir, "timeseries") if r["role"] == "mirror"]
    assert any(r["mirror_replication_latency_ms"] is not None for r in mirror)
    after_kill = [r for r in mirror if r["t_ns"] > fault["done_ns"] and r["mirror"] == "forward"]
    assert after_kill and min(r["lag_records"] for r in after_kill) == 0
    forward, reverse = info["mirror"]["forward"], info["mirror"]["reverse"]
    assert forward["emit.checkpoints.interval.seconds"] == "2"
    assert forward["sync.group.offsets.enabled"] == "true"
    assert reverse["replication.policy.class"].endswith("DefaultReplicationPolicy")
    assert reverse["target->source.enabled"] == "true"
    assert (run_dir / "reverse-reverse-mirror.log").exists()
    assert "lost" in proc.stdout and "translation" in proc.stdout
    # judged again from its files: the same go, and a no-go under a bound it exceeds
    again = subprocess.run([sys.executable, "-m", "replaybench", "rejudge", str(run_dir)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "none changed" in again.stdout, again.stdout + again.stderr
    if info["migration"]["duplicates"]:
        bound = tmp_path / "bound.yaml"
        bound.write_text("migration_max_duplicates: 0\n")
        tight = subprocess.run([sys.executable, "-m", "replaybench", "rejudge", str(run_dir),
                                "--thresholds", str(bound)], capture_output=True, text=True,
                               timeout=120)
        assert tight.returncode == 1 and "->  NO-GO:" in tight.stdout, tight.stdout


# earliest (everything read again) was seen passing too; left out of the suite for its time:
# the drained cutover above already shows re-reads from the ledger, and the judge's own tests
# (test_migration_units.py) hold the earliest case's arithmetic.
@pytest.mark.slow(85)
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
@pytest.mark.parametrize("reset", ["latest"])
def test_consumers_moved_without_their_offsets_skip_or_re_read(tmp_path, reset):
    """Checkpoints and offset sync off, consumers moved at once: the group starts on the
    target where its reset policy says. latest skips what was written meanwhile (lost);
    earliest reads everything again (delivered twice). Each cluster in a security mode of its
    own: the source on TLS, the target on SASL_SSL with least-privileged logins."""
    proc, run_dir = _run(tmp_path, "migration-cutover",
                         "migration.cutover.procedure=consumers-first",
                         "migration.cutover.wait_for_checkpoints=false",
                         "migration.mirror.checkpoints=false",
                         "migration.mirror.sync_group_offsets=false",
                         "migration.source_security=tls", "migration.target_security=sasl_ssl",
                         f"migration.cutover.reset={reset}",
                         # once the consumers are on the target: a freeze before the join
                         # changes what `latest` skips, and the mirror is scraped from when
                         # it first answers (its JVM took over 10 s to start in a loaded suite)
                         "faults=[{action: pause, targets: [mirror], "
                         "after_phase: cutover-consumers-ahead, "
                         "at_s: 0, duration_s: 5}]",
                         flags=("--monitor",))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    total = _totals(run_dir)["cutover"]
    parts = [r for r in _rows(run_dir, "migration") if r["partition"] >= 0]
    info = json.loads((run_dir / "manifest.json").read_text())
    assert info["status"] == "failed" and "NO-GO" in info["migration"]["verdict"]
    assert total["mirror_missing"] == 0   # the mirror copied everything: the group did not read it
    source, target = info["cluster"]["source"], info["cluster"]["target"]
    assert (source["security"], target["security"]) == ("tls", "sasl_ssl")
    # on the SASL_SSL target, as its authorizer saw it: nobody denied anything, the copy
    # read by the consumers' principal, and the lag exporter's principal only describing
    seen = target["access_seen"]
    assert not [p for p, v in seen.items() if v.get("denied")], seen
    assert f"READ Topic:rb-{info['run_id']}-orders" in seen["User:consumer"]["allowed"]
    assert {a.split()[0] for a in seen["User:monitor"]["allowed"]} == {"DESCRIBE"}
    assert "access_seen" not in source   # TLS: no principals to tell apart
    if reset == "latest":
        assert total["lost"] > 0 and info["reason"].startswith("migration: acknowledged")
        assert max(r["translation_error"] for r in parts) > 0
    else:
        assert total["lost"] == 0
        assert total["duplicates"] == sum(r["true_offset"] for r in parts) > 0
        assert all(r["resumed_offset"] == 0 for r in parts)
    # --monitor: a real Prometheus scraped both embedded clusters' brokers through the run,
    # and their bytes in show the producers' move: the source's while mirrored, the target's
    # in the trial
    assert sorted(info["monitoring"]["targets"]) == ["mirror", "source-broker-1",
                                                     "source-lag-exporter", "target-broker-1",
                                                     "target-lag-exporter"]
    written: dict[str, set[str]] = {}
    lagged: dict[str, set[str]] = {}   # each cluster's lag exporter: where the group committed
    for row in _rows(run_dir, "platform_metrics"):
        if row["metric"] == "bytes_in_per_s" and row["value"] > 0:
            written.setdefault(row["server"], set()).add(row["phase"])
        if row["metric"] == "consumer_group_lag":
            lagged.setdefault(row["server"], set()).add(row["phase"])
    assert "mirrored" in written["source-broker-1"] and "trial" in written["target-broker-1"]
    assert "mirrored" in lagged["source-lag-exporter"] and "trial" in lagged["target-lag-exporter"]
    # the group's lag as each cluster's exporter showed it, read where its consumers were,
    # against their true lag: close on both sides of the move
    checks = {c["subject"]: c for c in _rows(run_dir, "observability")}
    moved = checks["the moved group's lag"]
    assert moved["passed"] is True and moved["error_p95_s"] <= 10, moved["reason"]
    assert "live consumers' lag" not in checks
    # the mirror, scraped while it ran (its JMX exporter, from when it first answered): what
    # it copied, and its 5 s freeze, seen as its absence within seconds; too short for the
    # 30 s alert to fire; never down otherwise: stopped at the cutover by design, it left
    # the scrape (within Prometheus's 5 s discovery throttle) rather than show as down
    mirror = [r for r in _rows(run_dir, "platform_metrics") if r["server"] == "mirror"]
    assert max(r["value"] for r in mirror if r["metric"] == "mirror_records_per_s") > 0
    assert any(r["metric"] == "mirror_replication_latency_ms" for r in mirror)
    [fault] = _rows(run_dir, "faults")
    shown = checks["fault 0 pause mirror"]
    assert shown["passed"] is True and shown["delay_ns"] <= 5e9, shown["reason"]
    assert checks["fault 0 pause mirror: alert"]["passed"] is False
    up = sorted((r["t_ns"], r["value"]) for r in mirror if r["metric"] == "up")
    [stopped] = [e["t_ns"] for e in _rows(run_dir, "events") if e["kind"] == "mirror_stopped"]
    assert all(fault["started_ns"] <= t <= fault["done_ns"] + 3e9 or t > stopped
               for t, v in up if v == 0), up
    assert up[-1][0] <= stopped + 8e9, (up[-1][0] - stopped) / 1e9


@pytest.mark.slow(60)
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_a_mirror_denied_the_groups_it_checkpoints_sends_the_group_back_to_the_start(
        tmp_path):
    """--drop-acl mirror:DESCRIBE:group on a SASL_SSL source: MirrorMaker may not see the
    group there, so it checkpoints nothing, and says nothing (listing groups leaves out those
    a principal may not describe; the authorizer logs no denial). The cutover waits out its
    cap for offsets that never come, and the group starts on the target where its reset
    policy says: `earliest` reads the whole copy again, a NO-GO. (With `latest` this drained
    cutover lost nothing: producers had stopped, the copy's end was where the group was.)"""
    proc, run_dir = _run(tmp_path, "migration-cutover", "migration.source_security=sasl_ssl",
                         "migration.cutover.wait_max_s=8", "migration.cutover.reset=earliest",
                         flags=("--drop-acl", "mirror:DESCRIBE:group"))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    info = json.loads((run_dir / "manifest.json").read_text())
    total = _totals(run_dir)["cutover"]
    parts = [r for r in _rows(run_dir, "migration") if r["partition"] >= 0]
    assert "NO-GO" in info["migration"]["verdict"] and total["lost"] == 0
    assert all(r["resumed_offset"] == 0 for r in parts)
    assert total["duplicates"] == sum(r["true_offset"] for r in parts) > \
        info["migration"]["max_duplicates"]
    assert "group offsets not synced" in total["notes"]
    source = info["cluster"]["source"]
    assert source["acls"]["dropped"] == [f"User:mirror DESCRIBE group rb-{info['run_id']}-app"]
    # the source's authorizer: the mirror read the topic, and never touched a group
    mirror = source["access_seen"]["User:mirror"]
    assert f"READ Topic:rb-{info['run_id']}-orders" in mirror["allowed"]
    assert not [a for a in mirror["allowed"] + mirror.get("denied", []) if "Group:" in a]
    assert "acls" not in info["cluster"]["target"]   # plain: nothing granted there


def test_the_same_cluster_on_both_sides_is_refused_before_anything_starts(tmp_path, kafka1):
    profile = tmp_path / "here.yaml"
    profile.write_text(f"version: 1\nname: here\nbootstrap: {kafka1.bootstrap}\n")
    results = tmp_path / "results"
    proc = subprocess.run([sys.executable, "-m", "replaybench", "run", "--workload",
                           "migration-cutover", "--results", str(results),
                           "--set", f"migration.source={profile}",
                           "--set", f"migration.target={profile}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "same cluster" in line and "Traceback" not in proc.stderr
    assert not list(results.glob("*/manifest.json"))


@pytest.mark.slow(60)
@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_a_mirror_that_dies_ends_the_run_with_its_last_log_lines_and_keeps_what_was_measured(
        tmp_path):
    """Killed from outside (not by a workload fault) mid catch-up: the run fails saying so,
    with the mirror's own last lines, and its results are written. On a CPU budget: both
    clusters' brokers on one core, the harness and its mirror on the other; watched through
    --metrics-port, by a team's own Prometheus (--prometheus) that the run asks for its
    window although it failed."""
    import signal
    import time
    import urllib.request

    from replaybench.clusters.ports import free_ports
    from replaybench.clusters.processes import ServerProcess
    from replaybench.clusters.prometheus_server import PrometheusServer
    results = tmp_path / "results"
    sets = [arg for o in (*QUICK, "migration.seed_s=10") for arg in ("--set", o)]
    cluster_core, harness_core = sorted(os.sched_getaffinity(0))[:2]
    port = free_ports(1)[0]
    queries = tmp_path / "team-queries.yaml"
    queries.write_text('produced: replaybench_records_per_s{role="producer"}\n'
                       "phase: replaybench_phase == 1\n")
    team = PrometheusServer(tmp_path / "team-prometheus", {"nightly": f"127.0.0.1:{port}"},
                            1.0).start()
    proc = subprocess.Popen([sys.executable, "-m", "replaybench", "run", "--workload",
                             "migration-cutover", "--results", str(results), *sets,
                             "--cluster-cpus", str(cluster_core),
                             "--harness-cpus", str(harness_core), "--metrics-port", str(port),
                             "--prometheus", team.url, "--prometheus-queries", str(queries)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    run_id = None
    for line in proc.stdout:
        if line.startswith("run ") and run_id is None:
            run_id = line.split()[1].rstrip(":")
        if line.startswith("catch-up at"):
            break
    # --metrics-port: the migration's own figures, served while it runs (the mirrors' lag
    # among them, each under its name: test_live_metrics_units.py)
    time.sleep(1.5)   # a tick into the phase
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        served = reply.read().decode()
    assert 'replaybench_phase{phase="catch-up"} 1.0' in served, served
    assert 'replaybench_records_per_s{role="producer"}' in served, served
    assert 'replaybench_lag_records{role="consumer"}' in served, served
    time.sleep(1.5)
    # this run's mirror only: the one whose configuration names this run's topic
    mine = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "org.apache.kafka.connect.mirror.MirrorMaker" in argv:
            config = Path(argv[argv.index("org.apache.kafka.connect.mirror.MirrorMaker") + 1])
            try:   # another run's mirror may be stopping meanwhile
                if run_id and run_id in config.read_text():
                    mine.append(int(entry.name))
                    config_of_mine = config
            except OSError:
                continue
    assert len(mine) == 1, (run_id, mine)
    # once it has begun its log (on a loaded machine a JVM 3 s old may not have yet): the run
    # must then keep that log with its results
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in config_of_mine.parent.glob("*.log")) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    # the mirror is the harness's: started by it, on its cores
    assert os.sched_getaffinity(mine[0]) == {harness_core}
    ServerProcess(mine[0], "connect.mirror.MirrorMaker").signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    team.stop()
    assert proc.returncode == 1, out[-3000:] + err[-3000:]
    [run_dir] = [p for p in results.iterdir() if p.is_dir()]
    info = json.loads((run_dir / "manifest.json").read_text())
    assert info["status"] == "failed", info["reason"]
    # the team's Prometheus was asked for the failed run's window, under the team's names:
    # the producers' rate served by the run, and the phases it went through until it failed
    assert info["monitoring"]["owner"] == "team" and info["monitoring"]["prometheus"] == team.url
    series = _rows(run_dir, "platform_metrics")
    assert {r["server"] for r in series} == {"nightly"}
    assert any(r["metric"] == "produced" and r["value"] > 0 for r in series)
    assert {"seed", "catch-up"} <= {json.loads(r["labels"])["phase"] for r in series
                                    if r["metric"] == "phase"}
    # both clusters' brokers ran on the cluster's core, read back from the kernel
    budget = info["cpu_budget"]
    assert (budget["cluster"], budget["harness"]) == (str(cluster_core), str(harness_core))
    assert budget["servers"] == {"source-broker-1": str(cluster_core),
                                 "target-broker-1": str(cluster_core),
                                 "mirror": str(harness_core)}
    said = f"mirror (MirrorMaker 2, pid {mine[0]}) exited (killed by SIGKILL); its last lines: "
    # its log's lines, or what the JVM printed when it was killed before its log began
    assert info["reason"].startswith(said) and len(info["reason"]) > len(said) + 10, info
    assert any(r["role"] == "producer" for r in _rows(run_dir, "timeseries"))
    assert (run_dir / "forward-mirror.log").exists()
    assert "Traceback" not in err
