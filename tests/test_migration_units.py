"""The parts of a migration run that need no cluster: the judge over a ledger (a good cutover
and the bad ones it must tell apart), MirrorMaker's configuration, its figures, the Java client
settings and the workload section."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from replaybench.clusters import mirror_config
from replaybench.clusters.java_client_config import to_java
from replaybench.clusters.mirror_maker import figures_from_beans
from replaybench.engine import workload
from replaybench.errors import UsageError
from replaybench.verdicts import migration

BASE = 1 << 32


def _acked(n: int, leg: int, first: int = 0, partition: int = 0) -> np.ndarray:
    """n records of key 1, versions BASE+first.., acknowledged in `leg`."""
    v = BASE + np.arange(first, first + n)
    return np.column_stack([np.ones(n, np.int64), v, np.full(n, partition), np.full(n, leg)])


def _read(acked: np.ndarray, leg: int, offsets: np.ndarray, topic: int = 0) -> np.ndarray:
    """The group's ledger rows for these acked records, read in `leg` at `offsets`."""
    n = len(acked)
    return np.column_stack([acked[:, 0], acked[:, 1], acked[:, 2], offsets,
                            np.full(n, leg), np.full(n, topic), np.arange(n) + 1000 * leg])


def _copy(acked: np.ndarray) -> np.ndarray:
    """The mirrored copy of these records, at offsets 0.. (a 1:1 copy)."""
    return np.column_stack([acked[:, 0], acked[:, 1], acked[:, 2], np.arange(len(acked))])


def _cutover(source_read: int, resume_at: int, copy: np.ndarray | None = None):
    """100 records on the source, 50 more on the target after the cutover; the group read
    `source_read` of the first on the source, then resumed at `resume_at` in the copy."""
    before, after = _acked(100, 0), _acked(50, 1, first=100)
    copied = _copy(before) if copy is None else copy
    delivered = [_read(before[:source_read], 0, np.arange(source_read))]
    resumed = copied[copied[:, 3] >= resume_at]     # what the copy holds from there on
    delivered.append(_read(resumed, 1, resumed[:, 3]))
    delivered.append(_read(after, 1, np.arange(len(copied), len(copied) + 50)))
    step = migration.Step("cutover", 0, 1, 0, copied, 2_000_000, 5_000_000)
    return migration.judge(np.concatenate([before, after]), np.concatenate(delivered), 1,
                           [step], max_duplicates=0)


def test_a_clean_cutover_loses_nothing_doubles_nothing_and_resumes_where_it_stopped():
    rows, verdict = _cutover(source_read=60, resume_at=60)
    p0 = rows[0]
    assert (p0["lost"], p0["duplicates"], p0["translation_error"]) == (0, 0, 0)
    assert (p0["resumed_offset"], p0["true_offset"], p0["mirror_missing"]) == (60, 60, 0)
    assert verdict["passed"] and verdict["verdict"].startswith("GO")
    assert rows[-1]["partition"] == -1 and rows[-1]["write_unavailable_ns"] == 2_000_000


def test_a_group_resumed_past_its_position_shows_the_skipped_records_as_lost():
    rows, verdict = _cutover(source_read=60, resume_at=75)    # offsets translated too far
    assert rows[0]["translation_error"] == 15
    assert rows[0]["lost"] == 15 and verdict["lost"] == 15
    assert not verdict["passed"] and verdict["verdict"].startswith("NO-GO")


def test_a_group_resumed_behind_its_position_shows_the_re_reads_as_duplicates():
    rows, verdict = _cutover(source_read=60, resume_at=40)    # conservative translation
    assert rows[0]["translation_error"] == -20
    assert rows[0]["duplicates"] == 20 and verdict["lost"] == 0
    assert not verdict["passed"]   # the bound here is 0


def test_records_the_mirror_never_copied_are_lost_and_missing_from_the_copy():
    before = _acked(100, 0)
    rows, verdict = _cutover(source_read=60, resume_at=60, copy=_copy(before[:90]))
    assert rows[0]["mirror_missing"] == 10
    # the group resumed at offset 60 of a copy that ends at 90: records 90..99 never came
    assert verdict["lost"] == 10


def test_a_copy_holding_records_twice_is_counted():
    before = _acked(100, 0)
    copy = _copy(np.concatenate([before, before[80:]]))
    rows, _ = _cutover(source_read=60, resume_at=60, copy=copy)
    assert rows[0]["mirror_duplicates"] == 20


def test_a_rollback_answers_for_what_the_trial_wrote():
    before, trial, back = _acked(10, 0), _acked(10, 1, first=10), _acked(5, 2, first=20)
    delivered = np.concatenate([_read(before, 0, np.arange(10)), _read(trial[:7], 1,
                                                                       np.arange(10, 17)),
                                _read(back, 2, np.arange(10, 15))])
    steps = [migration.Step("cutover", 0, 1, 0, None, 0, 0),
             migration.Step("rollback", 1, 2, 1, None, 0, 0)]
    rows, verdict = migration.judge(np.concatenate([before, trial, back]), delivered, 1, steps,
                                    max_duplicates=0)
    by_step = {r["step"]: r for r in rows if r["partition"] == -1}
    assert by_step["cutover"]["lost"] == 0
    assert by_step["rollback"]["lost"] == 3 == verdict["lost"]   # the trial's last 3 records


def test_mirror_properties_set_every_default_that_decides_a_cutover():
    flow = mirror_config.Flow("source", "target", {"bootstrap.servers": "a:1"},
                              {"bootstrap.servers": "b:2"}, ("orders",), ("app",))
    props = mirror_config.properties(flow, mirror_config.MirrorSettings(
        checkpoint_interval_s=7, sync_interval_s=3, offset_lag_max=10, policy="prefixed"))
    assert props["source.bootstrap.servers"] == "a:1"
    assert props["target.bootstrap.servers"] == "b:2"
    assert props["source->target.enabled"] == "true"
    assert props["target->source.enabled"] == "false"
    assert props["emit.checkpoints.interval.seconds"] == "7"
    assert props["sync.group.offsets.enabled"] == "true"
    assert props["sync.group.offsets.interval.seconds"] == "3"
    assert props["refresh.groups.interval.seconds"] == "5"
    assert props["offset.lag.max"] == "10"
    assert props["replication.policy.class"] == mirror_config.PREFIXED
    assert "source->target.topics=orders\n" in mirror_config.render(props)
    # no plugin scan by reflection, in MirrorMaker nor in its herder's worker (the target's)
    assert props["plugin.discovery"] == props["target.plugin.discovery"] == "service_load"
    # MirrorMaker's own default, said out loud: aborted transactions are copied
    assert props["source.consumer.isolation.level"] == "read_uncommitted"
    committed = mirror_config.properties(flow, mirror_config.MirrorSettings(read_committed=True))
    assert committed["source.consumer.isolation.level"] == "read_committed"


def test_java_settings_of_a_secured_client():
    java = to_java({"bootstrap.servers": "h:1", "security.protocol": "sasl_ssl",
                    "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "u",
                    "sasl.password": 'p"w', "ssl.ca.location": "/ca.pem",
                    "linger.ms": "5"}, "target")
    assert java["security.protocol"] == "SASL_SSL"
    assert java["sasl.mechanism"] == "SCRAM-SHA-512"
    assert 'username="u" password="p\\"w";' in java["sasl.jaas.config"]
    assert java["ssl.truststore.type"] == "PEM" and java["ssl.truststore.location"] == "/ca.pem"
    assert "linger.ms" not in java
    with pytest.raises(UsageError, match="target: sasl.mechanism GSSAPI"):
        to_java({"sasl.mechanism": "GSSAPI"}, "target")


def test_mirror_figures_from_its_mbeans():
    beans = {
        "kafka.connect.mirror:partition=0,target=target,topic=orders,type=MirrorSourceConnector":
            {"replication-latency-ms": 12.0, "record-age-ms": 40.0, "record-count": 9},
        "kafka.connect.mirror:group=app,partition=0,source=source,target=target,topic=orders,"
        "type=MirrorCheckpointConnector": {"checkpoint-latency-ms": 3.0},
        "kafka.connect.mirror:type=Other": {"x": 1}}
    figures = figures_from_beans(beans)
    assert figures["replication-latency-ms"] == {"orders-0": 12.0}
    assert figures["record-age-ms"] == {"orders-0": 40.0}
    assert figures["checkpoint-latency-ms"] == {"app/orders-0": 3.0}


def test_a_migration_workload_needs_applications_to_move(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nname: m\nlive:\n  consumers: 0\nmigration:\n  target: s3\n")
    with pytest.raises(workload.WorkloadError, match="live.consumers"):
        workload.load(path)
    path.write_text("version: 1\nname: m\nmigration:\n  cutover:\n    procedure: big-bang\n")
    with pytest.raises(workload.WorkloadError, match="migration.cutover.procedure"):
        workload.load(path)


def test_shipped_workloads_without_a_migration_keep_their_hash():
    spec = workload.load(workload.path_for("restore-storm"))
    assert "migration" not in spec.to_dict()


def test_a_migration_runs_figures_are_named_metrics_for_compare_and_history():
    from pathlib import Path

    from replaybench.analysis import compare
    from replaybench.results.runs import Run, RunsError, per_run
    rows = [{"step": "cutover", "partition": -1, "lost": 0, "duplicates": 7,
             "switch_ns": 2_500_000_000, "write_unavailable_ns": 2_000_000_000,
             "read_unavailable_ns": None},
            {"step": "rollback", "partition": -1, "lost": 3, "duplicates": 0,
             "switch_ns": 4_000_000_000, "write_unavailable_ns": 1, "read_unavailable_ns": 1}]
    run = Run(Path("m"), {"migration": {"lost": 3}}, [], [], rows)
    assert per_run(run, "migration.switch_time") == 2.5
    assert per_run(run, "migration.duplicates") == 7
    assert per_run(run, "migration.rollback.lost") == 3
    assert per_run(run, "migration.read_unavailable") is None
    with pytest.raises(RunsError, match="migration metrics are"):
        per_run(run, "migration.speed")
    assert [r.metric for r in compare.default_rules([run], [run])] == [
        "migration.switch_time", "migration.write_unavailable"]


def _parts(*records: bytes, start: int = 0) -> dict:
    return {0: (list(range(start, start + len(records))), list(records))}


def test_a_teams_own_topic_is_judged_by_content_in_order():
    from replaybench.verdicts import mirror_content as mc
    source = _parts(b"a", b"b", b"c", b"b")
    [same] = mc.judge_topic("t", source, _parts(b"a", b"b", b"c", b"b"))
    assert same["in_order"] and (same["missing"], same["extra"]) == (0, 0)
    [short] = mc.judge_topic("t", source, _parts(b"a", b"b", b"c"))
    assert not short["in_order"] and short["missing"] == 1
    [twice] = mc.judge_topic("t", source, _parts(b"a", b"b", b"a", b"b", b"c", b"b"))
    assert not twice["in_order"] and (twice["missing"], twice["extra"]) == (0, 2)
    [swapped] = mc.judge_topic("t", source, _parts(b"b", b"a", b"c", b"b"))
    assert not swapped["in_order"] and swapped["missing"] == 0


def test_aborted_records_in_a_copy_are_told_from_duplicates_and_fail_their_check():
    """The source committed a, b, c and aborted x, y (offsets 1-2, read_uncommitted only); a
    mirror reading uncommitted copied all five, and once more b: x and y are the aborted ones,
    b the duplicate."""
    from replaybench.engine.migration_verify import content_checks
    from replaybench.verdicts import mirror_content as mc
    source = {0: ([0, 3, 4], [b"a", b"b", b"c"])}
    aborted = {0: ([1, 2], [b"x", b"y"])}
    [row] = mc.judge_topic("t", source, _parts(b"a", b"x", b"y", b"b", b"b", b"c"), aborted)
    assert (row["missing"], row["extra"], row["aborted_copied"]) == (0, 1, 2)
    [check] = [c for c in content_checks([row]) if c["check"].startswith("aborted")]
    assert (check["observed"], check["passed"]) == (2, False)
    [clean] = mc.judge_topic("t", source, _parts(b"a", b"b", b"c"), aborted)
    assert clean["aborted_copied"] == 0 and clean["in_order"]
    assert all(c["passed"] for c in content_checks([clean]))
    # a row stored before the count existed is judged as it was
    old = {k: v for k, v in row.items() if k != "aborted_copied"}
    assert [c["check"] for c in content_checks([old])] == ["source records missing from the copy"]


def test_a_groups_synced_position_is_judged_against_the_record_its_offset_points_to():
    from replaybench.verdicts import mirror_content as mc
    # the source log starts at offset 10 (older records deleted); the copy from 0
    source = _parts(b"a", b"b", b"c", b"d", start=10)
    copy = _parts(b"a", b"b", b"c", b"d")
    [exact] = mc.judge_group("g", "t", {0: 12}, {0: 2}, source, copy)
    assert (exact["expected_offset"], exact["translation_error"]) == (2, 0)
    [behind] = mc.judge_group("g", "t", {0: 12}, {0: 0}, source, copy)
    assert behind["translation_error"] == -2                    # reads a, b again
    [ahead] = mc.judge_group("g", "t", {0: 12}, {0: 3}, source, copy)
    assert ahead["translation_error"] == 1                      # skips c
    [done] = mc.judge_group("g", "t", {0: 14}, {0: 4}, source, copy)
    assert (done["expected_offset"], done["translation_error"]) == (4, 0)
    [unsynced] = mc.judge_group("g", "t", {0: 12}, {0: -1}, source, copy)
    assert unsynced["synced_offset"] is None and unsynced["translation_error"] is None
    assert mc.judge_group("g", "t", {0: -1}, {}, source, copy) == []   # never committed


@pytest.mark.parametrize("request_fields, message", [
    ({"overrides": ("migration.target=nowhere",)},
     "migration.target: nowhere: neither a platform (kafka, tiered, tiered-local, s3) nor a profile"),
    ({"overrides": ("migration.source=/no/such/profile.yaml",)},
     "migration.source: /no/such/profile.yaml: no such cluster profile"),
    # each embedded side is secured as asked, or refused as a run on one cluster is
    ({"security": "tls", "overrides": ("migration.target=s3",)},
     "migration.target: --security tls: --cluster s3 cannot be"),
    ({"overrides": ("migration.target=s3", "migration.target_security=sasl_ssl")},
     "migration.target: --security sasl_ssl: --cluster s3 cannot be"),
    ({"overrides": ("migration.source=/their/prod.yaml", "migration.source_security=tls")},
     "migration.source_security: source is a profile (/their/prod.yaml): it brings its own"),
    ({"bootstrap": "127.0.0.1:9"}, "--bootstrap: a migration names its two clusters"),
    # a grant left out needs a side whose roles have principals
    ({"drop_acls": ("mirror:READ:group",), "security": "tls"},
     "--drop-acl needs --security sasl_ssl"),
    ({"drop_acls": ("mirror:READ:group",),
      "overrides": ("migration.source=/their/prod.yaml", "migration.target_security=tls")},
     "--drop-acl needs --security sasl_ssl"),
    ({"drop_acls": ("mirror:SING",), "security": "sasl_ssl"},
     "--drop-acl 'mirror:SING': expected ROLE:OPERATION"),
])
def test_what_a_migration_cannot_use_is_one_line_before_anything_starts(
        tmp_path, request_fields, message):
    """Refused before Ray, a cluster or a results folder (the CLI prints it as one line,
    exit 2, like every UsageError)."""
    from replaybench.engine import runner
    request = runner.RunRequest(workload.path_for("migration-cutover"), tmp_path,
                                results_dir=tmp_path / "results", **request_fields)
    with pytest.raises(UsageError) as refused:
        runner.run(request)
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert not list((tmp_path / "results").glob("*"))


def test_a_cpu_budget_for_a_migration_between_two_profiles_is_one_line(tmp_path):
    from replaybench.clusters.cpu_budget import CpuBudget
    from replaybench.engine import runner
    ends = []
    for name, port in (("a", 9), ("b", 10)):
        ends.append(tmp_path / f"{name}.yaml")
        ends[-1].write_text(f"version: 1\nname: {name}\nbootstrap: 127.0.0.1:{port}\n")
    request = runner.RunRequest(
        workload.path_for("migration-cutover"), tmp_path, results_dir=tmp_path / "results",
        overrides=(f"migration.source={ends[0]}", f"migration.target={ends[1]}"),
        cpu_budget=CpuBudget(frozenset({0}), frozenset({1})))
    with pytest.raises(UsageError, match="both clusters are profiles, none is embedded here"):
        runner.run(request)
    secured = dataclasses.replace(request, cpu_budget=None, security="sasl_ssl")
    with pytest.raises(UsageError, match="--security: both clusters are profiles"):
        runner.run(secured)
    assert not list((tmp_path / "results").glob("*"))


@pytest.mark.parametrize(("procedure", "rollback"), [("drain-then-switch", True),
                                                     ("consumers-first", False)])
def test_the_phases_a_fault_may_follow_are_the_phases_the_schedule_enters(
        tmp_path, procedure, rollback):
    from types import SimpleNamespace

    from replaybench.engine.migration_schedule import MigrationSchedule
    from replaybench.engine.phases import Phase
    path = tmp_path / "m.yaml"
    path.write_text(f"version: 1\nname: m\nmigration:\n  rollback: {str(rollback).lower()}\n"
                    f"  cutover: {{procedure: {procedure}}}\n")
    spec = workload.load(path)
    m = spec.migration
    state = SimpleNamespace(spec=spec, on_tick=[], faults=SimpleNamespace(faults=[]))
    traffic = SimpleNamespace(start=None, stop_producers=None, consumers_leave=None)
    schedule = MigrationSchedule(state, traffic,
                                 None, None, None, object() if rollback else None)
    steps = schedule.steps(lambda: None)
    assert [s.name for s in steps if isinstance(s, Phase)][:-1] == m.phase_names()


def test_a_migrations_fault_names_a_phase_it_has_and_its_targets(tmp_path):
    path = tmp_path / "m.yaml"
    base = "version: 1\nname: m\nmigration:\n  target: kafka\nfaults:\n"
    path.write_text(base + "  - {action: kill, targets: [source-broker-1], at_s: 1, "
                           "after_phase: rollback-drain}\n")
    with pytest.raises(workload.WorkloadError, match="'rollback-drain' is not a phase of this "
                                                     "migration .seed, catch-up, mirrored"):
        workload.load(path)
    path.write_text(base + "  - {action: kill, at_s: 1}\n")
    with pytest.raises(workload.WorkloadError, match="name their targets"):
        workload.load(path)
    path.write_text("version: 1\nname: r\nfaults:\n  - {action: kill, at_s: 1, "
                    "after_phase: trial}\n")
    with pytest.raises(workload.WorkloadError, match="after_phase is for a migration's"):
        workload.load(path)


def test_a_commit_the_coordinator_cannot_take_now_is_counted_and_left_to_the_next_tick():
    """A restarting coordinator refuses commits for a while (seen: _WAIT_COORD, then
    _ASSIGNMENT_LOST once it forgot the member); the application goes on. An error that is
    not "not now" (a missing grant) still ends the run."""
    from confluent_kafka import KafkaError, KafkaException

    from replaybench.roles.group_consumer import GroupConsumer

    class Refusing:
        def __init__(self, code: int) -> None:
            self.code = code

        def commit(self, asynchronous: bool) -> None:
            raise KafkaException(KafkaError(self.code))

        def close(self) -> None:
            pass

    consumer = GroupConsumer({"bootstrap.servers": "127.0.0.1:9"}, ["t"], "g", 10, 1)
    consumer.consumer.close()
    for code in (KafkaError._WAIT_COORD, KafkaError._ASSIGNMENT_LOST, KafkaError._NO_OFFSET):
        consumer.consumer = Refusing(code)
        consumer._commit(wait=False)
    consumer._committed(KafkaError(KafkaError.NOT_COORDINATOR), [])   # an answer in a poll
    assert consumer.snapshot().counters["commit_failures"] == 3
    consumer.consumer = Refusing(KafkaError.GROUP_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        consumer._commit()
    consumer._on_lost(consumer.consumer, [])    # lost partitions: nothing to commit
    with pytest.raises(KafkaException):          # revoked ones are committed first
        consumer._on_revoke(consumer.consumer, [])


def test_a_cluster_that_does_not_answer_is_not_yet_to_the_lag_reader(monkeypatch):
    """A broker down or restarting mid-cutover: the waits ask again at the next tick, within
    their timeouts, instead of ending the run. (The timeouts shortened: each is waited out.)"""
    import time

    from replaybench.clusters.ports import free_ports
    from replaybench.engine import group_offsets
    from replaybench.engine.group_offsets import NotYet, OffsetReader
    monkeypatch.setattr(group_offsets, "_METADATA_TIMEOUT_S", 0.5)
    monkeypatch.setattr(group_offsets, "_OFFSETS_TIMEOUT_S", 0.5)
    reader = OffsetReader({"bootstrap.servers": f"127.0.0.1:{free_ports(1)[0]}"})
    try:
        for ask in (lambda: reader.ends("t", 2), lambda: reader.committed("g", "t", 2)):
            started = time.monotonic()
            with pytest.raises(NotYet):
                ask()
            assert time.monotonic() - started < 3
    finally:
        reader.close()


def test_a_teams_group_whose_offset_never_reached_the_target_fails_its_check():
    """Moved then, it would start where its reset policy says: skip or read everything."""
    from replaybench.engine.migration_verify import content_checks
    from replaybench.verdicts import mirror_content
    source = {0: ([0, 1, 2], [b"a", b"b", b"c"]), 1: ([0, 1], [b"d", b"e"])}
    rows = mirror_content.judge_group("billing", "orders", {0: 2, 1: 1}, {0: 2}, source, source)
    checks = {c["scope"]: c for c in content_checks(rows)}
    assert checks["group billing/orders-0"]["passed"]
    missing = checks["group billing/orders-1"]
    assert missing["check"] == "committed offset synced to the target" and not missing["passed"]


def test_a_mirror_killed_mid_answer_has_no_figures_and_ends_nothing(tmp_path):
    """Its metrics agent's reply cut short (the process died while answering) reads as no
    figures this tick, as a mirror that is down does; it ended a run once (IncompleteRead)."""
    import socket
    import threading

    from replaybench.clusters.mirror_maker import MirrorMaker

    server = socket.create_server(("127.0.0.1", 0))

    def answer_and_die() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"status\"")
        conn.close()
    threading.Thread(target=answer_and_die, daemon=True).start()

    class Alive:
        def alive(self) -> bool:
            return True
    maker = MirrorMaker(tmp_path, tmp_path, {})
    maker.process, maker.metrics_port = Alive(), server.getsockname()[1]
    assert maker.figures(timeout_s=5) == {}
    server.close()


def test_a_copy_ending_with_its_originals_last_record_has_no_lag_whatever_its_offsets():
    """A transactional original: its markers (and, copied read_committed, its aborted records)
    take offsets its copy never has. Caught up, the copy is 0 behind, not 31; before, the
    offsets are what there is to go on."""
    from replaybench.engine.mirror_flow import MirrorFlow

    class Reader:
        def __init__(self, end: int, last: bytes) -> None:
            self.end, self.last = end, last

        def ends(self, topic: str, partitions: int) -> dict[int, int]:
            return {0: self.end}

        def last_records(self, topic: str, partitions: int) -> dict[int, bytes]:
            return {0: self.last}

    class Maker:
        def figures(self) -> dict:
            return {}

    flow = MirrorFlow("forward", Maker(), ({}, {}), [("orders", "orders", 1)])
    caught_up = flow._sample(Reader(3031, b"k:v-2999"), Reader(3000, b"k:v-2999"))
    assert (caught_up.caught_up, caught_up.lag_records) == (True, 0)
    behind = flow._sample(Reader(3031, b"k:v-2999"), Reader(2900, b"k:v-2899"))
    assert (behind.caught_up, behind.lag_records) == (False, 131)


def test_a_mirror_is_scraped_from_when_its_metrics_answer_until_the_schedule_stops_it():
    """A JVM still starting is not a mirror down: Prometheus is told of it once its metrics
    port answers, and told to drop it when the schedule stops it, not before, not twice."""
    from replaybench.engine.mirror_flow import MirrorFlow

    class Maker:
        name, exporter_address, answers = "mirror", "127.0.0.1:9", False

        def exporter_answers(self) -> bool:
            return self.answers

        def stop(self) -> None:
            pass

    class Scraper:
        def __init__(self) -> None:
            self.said: list[tuple] = []

        def scrape(self, name: str, address: str) -> None:
            self.said.append(("scrape", name, address))

        def unscrape(self, name: str) -> None:
            self.said.append(("unscrape", name))

    maker, scraper = Maker(), Scraper()
    flow = MirrorFlow("forward", maker, ({}, {}), [], scraper)
    flow._announce()
    assert scraper.said == []   # starting: not answering yet
    maker.answers = True
    flow._announce()
    flow._announce()
    assert scraper.said == [("scrape", "mirror", "127.0.0.1:9")]
    flow.stop()
    flow._announce()   # a last look of the sampler after the stop: nothing more
    assert scraper.said[1:] == [("unscrape", "mirror")]
    # stopped before it ever answered: nothing to drop
    quiet = Scraper()
    MirrorFlow("forward", Maker(), ({}, {}), [], quiet).stop()
    assert quiet.said == []


def test_where_a_mirror_began_to_read_is_read_from_its_consumers_log(tmp_path):
    """A mirror back starts at the ends of the target's topics (auto.offset.reset: latest):
    its consumer's own lines say where, per partition, the latest start's winning."""
    from replaybench.clusters.mirror_maker import MirrorMaker
    maker = MirrorMaker(tmp_path, tmp_path, {}, name="reverse-mirror")
    assert maker.start_positions() == {}
    prefix = "[2026-12-07 07:01:02,345] INFO [Consumer clientId=x, groupId=null] "
    maker.log_path.write_text(
        f"{prefix}Resetting offset for partition rb-1-orders-0 to position FetchPosition"
        "{offset=1200, offsetEpoch=Optional.empty, currentLeader=LeaderAndEpoch{leader="
        "Optional[127.0.0.1:21000 (id: 1 rack: null)], epoch=0}}. (org.apache.kafka.clients."
        "consumer.internals.SubscriptionState)\n"
        "[2026-12-07 07:01:02,346] INFO Starting with 2 previously uncommitted partitions.\n"
        f"{prefix}Resetting offset for partition rb-1-app-rb-aggregate-changelog-3 to position "
        "FetchPosition{offset=0, offsetEpoch=Optional.empty}.\n"
        f"{prefix}Resetting offset for partition rb-1-orders-0 to position FetchPosition"
        "{offset=1250, offsetEpoch=Optional.empty}.\n")
    assert maker.start_positions() == {("rb-1-orders", 0): 1250,
                                       ("rb-1-app-rb-aggregate-changelog", 3): 0}


def test_a_copy_made_on_the_way_back_is_checked_under_its_own_scope():
    from replaybench.engine.migration_verify import content_checks
    from replaybench.verdicts import mirror_content
    target = {0: ([0, 1, 2], [b"a", b"b", b"c"])}
    source = {0: ([0, 1], [b"a", b"b"])}   # the mirror back missed c
    rows = [{**r, "step": "rollback"} for r in mirror_content.judge_topic("orders", target,
                                                                          source)]
    [check] = [c for c in content_checks(rows) if not c["passed"]]
    assert check["scope"] == "rollback mirror orders-0" and check["observed"] == 1
    assert [c["scope"] for c in content_checks([{**rows[0], "step": "cutover"}])][0] == \
        "mirror orders-0"
