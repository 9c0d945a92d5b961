"""The engine's plain parts without a broker: schedule, placement, snapshots, histograms,
client config, results files."""

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replaybench.engine.partition_assignment import assign_partitions
from replaybench.format.histograms import LatencyHistogram
from replaybench.kafka import client_config
from replaybench.meters.snapshots import Snapshot
from replaybench.results import store
from replaybench.results.run_record import RunRecord
from replaybench.roles.schedule import RateSchedule

from tests.engine_helpers import WORKLOADS

S = 1_000_000_000


@pytest.mark.parametrize("steps, t_ns, due", [
    ({}, -1, 0), ({}, 0, 1), ({}, S // 1000 - 1, 1), ({}, S // 1000, 2), ({}, S, 1001),
    ({"1": 0}, 5 * S, 1000),                        # rate 0 from 1 s: nothing more is due
    ({"1": 0, "2": 2000}, 2 * S, 1001), ({"1": 0, "2": 2000}, 3 * S, 3001),
    ({"0.5": 4000}, S, 500 + 2001),
])
def test_rate_schedule_counts_due_records(steps, t_ns, due):
    assert RateSchedule.from_spec(1000, steps).due(t_ns) == due


@settings(max_examples=60, deadline=None)
@given(rates=st.lists(st.integers(0, 50_000), min_size=1, max_size=4),
       i=st.integers(0, 20_000))
def test_record_i_is_due_exactly_at_its_intended_time(rates, i):
    schedule = RateSchedule.from_spec(rates[0], {str(k): r for k, r in enumerate(rates[1:], 1)})
    if schedule.due(10**12) <= i:  # the schedule ends (rate 0) before record i
        return
    at = int(schedule.intended(i, i + 1)[0])
    assert schedule.due(at) >= i + 1 and schedule.due(at - 1) <= i
    assert np.all(np.diff(schedule.intended(max(i - 50, 0), i + 50)) >= 0)


def test_an_open_loop_producer_sends_a_finite_schedule_once_each_then_waits(monkeypatch):
    """1,000 records/s for 0.2 s, then rate 0: 200 records, each sent no earlier than its
    intended time and counted once in sent_intended, across two ticks and a plan boundary;
    after the last one the producer only waits (no broker here: produce() queues)."""
    from replaybench.format.histograms import LatencyHistogram
    from replaybench.roles import live_producer
    from replaybench.roles.live_producer import KeyShare, LiveProducer
    schedule = RateSchedule.from_spec(1000, {"0.2": 0})
    assert schedule.records == 200 and RateSchedule.constant(5).records is None
    producer = LiveProducer({"bootstrap.servers": "127.0.0.1:9", "log_level": 0}, "t", 4,
                            KeyShare(100), 50, schedule)
    monkeypatch.setattr(live_producer, "_BATCH", 64)   # several plans
    producer.start()
    snaps = [producer.tick(producer.origin_ns + S // 10),
             producer.tick(producer.origin_ns + 3 * S // 10)]
    assert producer.sent == sum(s.counters["sent"] for s in snaps) == 200
    assert snaps[0].counters["sent"] > 0
    intended = producer.origin_ns + schedule.intended(0, 200)
    assert (producer.sent_ns[:200] >= intended).all() and not producer.sent_ns[200:].any()
    late = sum(LatencyHistogram.from_blob(s.histograms["sent_intended"]).count for s in snaps)
    assert late == 200


@pytest.mark.parametrize("partitions, readers, expected", [
    (8, 4, [[0, 4], [1, 5], [2, 6], [3, 7]]), (3, 1, [[0, 1, 2]]), (2, 4, [[0], [1]]),
    (5, 2, [[0, 2, 4], [1, 3]]),
])
def test_partitions_are_split_round_robin(partitions, readers, expected):
    assert assign_partitions(partitions, readers) == expected


def _hist(values):
    h = LatencyHistogram()
    for v in values:
        h.record(int(v))
    return h


def test_snapshot_merge_is_associative_and_lossless():
    rng = np.random.default_rng(1)
    parts = [rng.lognormal(12, 2, 500).astype(np.int64) for _ in range(3)]
    snaps = [Snapshot("producer", f"p{i}", i, {"acked": len(v)}, {"queue_msgs": i, "rtt_p99_us_max": 10 * i},
                      {"ack_intended": _hist(v).to_blob()}) for i, v in enumerate(parts)]
    left = snaps[0].merge(snaps[1]).merge(snaps[2])
    right = snaps[0].merge(snaps[1].merge(snaps[2]))
    whole = _hist(np.concatenate(parts))
    for merged in (left, right):
        h = LatencyHistogram.from_blob(merged.histograms["ack_intended"])
        assert h.summary() == whole.summary()
        assert merged.counters == {"acked": 1500}
        assert merged.gauges == {"queue_msgs": 3, "rtt_p99_us_max": 20}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3_600_000_000_000), min_size=1, max_size=300))
def test_vectorised_percentiles_equal_hdrhistogram(values):
    h = _hist(values)
    ps = (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0)
    assert h.percentiles(ps) == [h.hist.get_value_at_percentile(p) for p in ps]
    assert h.summary()["mean_ns"] == pytest.approx(h.hist.get_mean_value(), rel=1e-9)


def test_client_config_expands_env_and_redacts(tmp_path, monkeypatch):
    path = tmp_path / "client.properties"
    path.write_text("# comment\nsecurity.protocol=SASL_SSL\nsasl.username=me\n"
                    "sasl.password=${RB_TEST_SECRET}\n")
    monkeypatch.setenv("RB_TEST_SECRET", "hunter2")
    cfg = client_config.load(path)
    assert cfg["sasl.password"] == "hunter2"
    assert client_config.redact(cfg) == {"security.protocol": "SASL_SSL", "sasl.username": "me",
                                         "sasl.password": "<redacted>"}
    monkeypatch.delenv("RB_TEST_SECRET")
    with pytest.raises(client_config.ClientConfigError,
                       match=r"line 4: environment variable RB_TEST_SECRET is not set"):
        client_config.load(path)
    path.write_text("root:x:0:0:root:/root:/bin/bash\n")   # not a properties file
    with pytest.raises(client_config.ClientConfigError, match=r"line 1: expected key=value") \
            as refused:
        client_config.load(path)
    assert "root" not in str(refused.value).replace(str(path), "")   # nothing of it quoted


def test_results_are_written_atomically_with_schema_version(tmp_path):
    record = RunRecord("r1", 1_000)
    record.enter("baseline", 2_000)
    h = _hist([1_000, 2_000, 3_000_000])
    record.add_interval(1, 2_000, [Snapshot("producer", "producer-0", 1_002_000, {"acked": 3, "bytes": 300},
                                            {}, {"ack_intended": h.to_blob()})])
    run_dir = store.write(tmp_path, record, {"status": "completed"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"]  # no partial directory left
    assert json.loads((run_dir / "manifest.json").read_text())["schema_version"] == store.SCHEMA_VERSION
    lat = pq.read_table(run_dir / "latency.parquet")
    assert lat.schema.metadata[b"replaybench.schema_version"] == str(store.SCHEMA_VERSION).encode()
    row = lat.to_pylist()[0]
    assert (row["phase"], row["metric"], row["count"]) == ("baseline", "ack_intended", 3)
    assert row["p99_ns"] == LatencyHistogram.from_blob(row["hdr_v2"]).percentile(99.0)
    assert lat.schema.field("p99_ns").metadata[b"description"]
    ts = store.read_table(run_dir, "timeseries").to_pylist()
    assert ts[0]["records"] == 3 and ts[0]["records_per_s"] == pytest.approx(3 / 1e-3)
    with pytest.raises(store.ResultsError, match="partial"):
        (tmp_path / ".r2.partial").mkdir()
        store.write(tmp_path, RunRecord("r2", 0), {})


def test_results_refuse_an_unknown_schema_version(tmp_path):
    table = store._table("events", []).replace_schema_metadata({b"replaybench.schema_version": b"99"})
    pq.write_table(table, tmp_path / "events.parquet")
    with pytest.raises(store.ResultsError, match="schema_version 99"):
        store.read_table(tmp_path, "events")


def test_run_ids_are_never_reused(tmp_path):
    ids = {store.new_run_id(tmp_path, "w") for _ in range(50)}
    assert len(ids) == 50


def _result(name, parts, versions, live, records):
    from replaybench.format.counters import FOLD_COUNTERS
    from replaybench.format.restore_result import PartitionRestore, RestoreResult
    counters = dict.fromkeys(FOLD_COUNTERS, 0)
    counters["records"] = records
    return RestoreResult(name, {p: PartitionRestore(p, 0, end, records // len(parts), 0, 1, 2)
                                for p, end in parts.items()},
                         np.array(versions, np.int64), np.array(live, np.uint8), counters, 5)


def test_a_group_verdict_merges_readers_and_names_what_is_wrong():
    from replaybench.verdicts.restore_verification import judge_group
    expected_versions = np.array([3, 1, 2, 0], np.int64)
    expected_live = np.array([1, 1, 0, 0], np.uint8)  # key 2 deleted, key 3 never written
    targets = {0: 4, 1: 3}
    good = [_result("a", {0: 4}, [3, 0, 0, 0], [1, 0, 0, 0], 4),
            _result("b", {1: 3}, [0, 1, 2, 0], [0, 1, 0, 0], 3)]
    verdict = judge_group(0, 1, good, expected_versions, expected_live, targets, np.zeros((0, 4)))
    assert all(c["passed"] for c in verdict.checks)
    assert verdict.group_row["restore_time_ns"] == 4 and len(verdict.partition_rows) == 2

    stale = [good[0], _result("b", {1: 3}, [0, 0, 2, 0], [0, 0, 1, 0], 3)]
    failed = {c["check"]: c for c in judge_group(0, 1, stale, expected_versions, expected_live,
                                                 targets, np.zeros((0, 4))).checks if not c["passed"]}
    assert set(failed) == {"live_keys", "missing_keys", "not_deleted_keys"}

    # Moving target: key 3 appended at partition 1 offset 3, below where reader b stopped (4).
    appended = np.array([[3, 1 << 32, 1, 3]], np.int64)
    moved = [good[0], _result("b", {1: 4}, [0, 1, 2, 1 << 32], [0, 1, 0, 1], 4)]
    verdict = judge_group(0, 1, moved, expected_versions, expected_live, targets, appended)
    assert all(c["passed"] for c in verdict.checks), verdict.checks


def test_live_checks_name_lost_rewound_and_double_read_records():
    from replaybench.verdicts.restore_verification import judge_live
    clean = judge_live(100, 100, 0, {"consumer-0": 100}, {"duplicates": 0, "bad_magic": 0})
    assert all(c["passed"] for c in clean) and len(clean) == 3 + 8
    bad = judge_live(100, 97, 1, {"consumer-0": 99}, {"duplicates": 2})
    failed = {c["check"]: (c["expected"], c["observed"]) for c in bad if not c["passed"]}
    assert failed == {"acked_records_vs_offsets": (97, 100), "acked_offset_rewinds": (0, 1),
                      "consumer-0_records": (100, 99), "consumed_duplicates": (0, 2)}


def test_a_reader_fallback_is_said_once_on_the_console_and_named_in_the_summary(monkeypatch):
    from rich.console import Console

    from replaybench.cli import display
    from replaybench.engine import runner, workload
    from replaybench.results.summary import GroupFigures, Summary
    from replaybench.roles import native_reader

    notes = []

    class Notes(runner.Display):
        def note(self, text: str) -> None:
            notes.append(text)

    spec = workload.load(WORKLOADS / "restore-storm.yaml", [], "smoke")
    monkeypatch.setattr(native_reader, "unavailable_reason", lambda: "no _rdkafka_reader here")
    runner._note_reader_fallback(spec, Notes())
    assert notes == [f"no _rdkafka_reader here; {native_reader.FALLBACK}"]
    runner._note_reader_fallback(workload.load(WORKLOADS / "restore-storm.yaml",
                                               ["storm.client=confluent-kafka"], "smoke"), Notes())
    assert len(notes) == 1   # asked for by name: nothing to warn about

    outcome = runner.RunOutcome(Path("r1"), "completed", "", Summary(
        [GroupFigures(0, 2.0, 100.0, 1e6, 2_000_000, 200_000_000, client="confluent-kafka",
                      readers=4)]), record=None)
    console = Console(width=120, record=True)
    for table in display.summary_tables(outcome):
        console.print(table)
    printed = console.export_text()
    assert "reader client │ confluent-kafka (Message objects: the slower fallback)" in printed
    assert re.search(r"│ readers +│ +4 │", printed), printed


def test_auto_readers_follow_the_cores_and_a_fixed_count_is_kept():
    from replaybench.engine.reader_count import choose
    assert choose("auto", 8, 2, "affinity").readers == 4       # two per core
    assert choose("auto", 8, 3, "affinity").readers == 6
    assert choose("auto", 8, 64, "affinity").readers == 8      # never more than the partitions
    assert choose("auto", 8, 0, "affinity").readers == 1       # at least one
    fixed = choose(4, 8, 1, "affinity")
    assert (fixed.readers, fixed.cores, fixed.source) == (4, 0, "the workload fixes it")


def test_auto_readers_on_a_joined_ray_count_the_cpus_of_the_readers_nodes():
    from replaybench.engine.node_placement import Node, Placer
    from replaybench.engine.reader_count import harness_cores
    from replaybench.engine.workload import Placement
    from replaybench.roles.kinds import Role
    nodes = [Node("h", "a:1", head=True, cpus=4), Node("w1", "b:1", cpus=8),
             Node("w2", "c:1", {"rb-role": "restore"}, cpus=16)]
    spread = Placer(nodes, Placement())
    apart = Placer(nodes, Placement(policy="separate"))
    pinned = Placer(nodes, Placement(policy="separate", pin={"reader": "rb-role=restore"}))
    assert [harness_cores(True, p.pools[Role.READER])[0] for p in (spread, apart, pinned)] == \
        [28, 24, 16]


def test_a_sweep_runs_round_by_round(tmp_path, monkeypatch):
    """Repetitions alternate the combinations, so the machine's drift falls on all alike."""
    from replaybench.engine import runner, sweep
    seen = []
    monkeypatch.setattr(runner, "run", lambda request, display=None: seen.append(
        (dict(request.tags)["storm.readers"], dict(request.tags)["repetition"])))
    base = runner.RunRequest(WORKLOADS / "restore-storm.yaml", tmp_path, results_dir=tmp_path)
    sweep.sweep(base, sweep.parse_vary(("storm.readers=1,auto",)), repeat=2)
    assert seen == [("1", "0"), ("auto", "0"), ("1", "1"), ("auto", "1")]


def _ray_start(init_body: str) -> str:
    """What a private Ray's start printed, ray.init replaced by `init_body` (a function of
    **kw, with `calls` and `real` in scope), in a process of its own."""
    import subprocess
    import sys
    script = (
        "import glob, os\n"
        "import ray\n"
        "from replaybench.engine.actors import ray_runtime\n"
        "from replaybench.errors import ClusterError\n"
        "calls, real = [], ray.init\n"
        f"def init(**kw):\n{init_body}\n"
        "ray.init = init\n"
        "before = set(glob.glob('/tmp/rb-ray-*'))\n"
        "try:\n"
        "    with ray_runtime(None) as info:\n"
        "        print('started in the second folder:', info['temp_dir'] == calls[-1])\n"
        "except ClusterError as exc:\n"
        "    print('refused:', exc)\n"
        "print('tries:', len(calls))\n"
        "print('left:', sorted(set(glob.glob('/tmp/rb-ray-*')) - before))\n")
    # -c: this checkout's replaybench (the working directory comes first on the path)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parent.parent)
    return done.stdout + done.stderr


def test_a_private_ray_that_fails_to_start_is_one_line_and_leaves_no_folder():
    """Its temp dir is made before ray.init; a failed init must not leave it behind, and the
    run ends in one line (seen as a traceback: a raylet that did not register in time)."""
    out = _ray_start("    calls.append(kw['_temp_dir'])\n"
                     "    raise Exception('The current node timed out during startup.\\nmore')")
    assert "refused: a local Ray did not start: The current node timed out during " \
           "startup.\n" in out, out
    assert "tries: 1" in out and "left: []" in out, out
