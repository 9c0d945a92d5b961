"""Replaying a topic replaybench did not write, read-only, on a real broker: the counts are the
ones the writer's own delivery reports imply, and the topic is left exactly as it was."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from replaybench.analysis import compare
from replaybench.engine import runner, workload
from replaybench.engine.workload import WorkloadError
from replaybench.kafka.topics import TopicError, existing_topic, topic_configs
from replaybench.results import runs
from replaybench.roles.restore_reader import end_offsets, log_start_offsets

from tests.engine_helpers import SHORT, WORKLOADS, manifest, run_smoke, table
from tests.kafka_helpers import create_topic

PARTITIONS = 3
DELETED_BELOW = 40     # delete-records on partition 0 moves its log start here


def _produce(producer: Producer, topic: str, items, delivered: list | None) -> None:
    def note(err, msg):
        assert err is None, err
        if delivered is not None:
            delivered.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
    for key, value in items:
        producer.produce(topic, key=key, value=value, on_delivery=note)
    producer.flush(30)


def _foreign_topic(bootstrap: str, topic: str) -> list[tuple]:
    """Plain records with tombstones, a committed and an aborted transaction, then the log start
    of partition 0 moved by delete-records. Returns what a read_committed reader must see:
    (partition, offset, key, value)."""
    create_topic(bootstrap, topic, PARTITIONS, 1)
    seen: list[tuple] = []
    plain = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    _produce(plain, topic, [(f"user-{i % 97}".encode(),
                             None if i % 7 == 0 else b"x" * (10 + i % 50)) for i in range(900)],
             seen)
    txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-writer"})
    txn.init_transactions(30)
    for commit in (True, False):
        txn.begin_transaction()
        _produce(txn, topic, [(f"order-{i}".encode(), b"{}") for i in range(60)],
                 seen if commit else None)
        txn.commit_transaction(30) if commit else txn.abort_transaction(30)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, DELETED_BELOW)]).values():
        future.result(30)
    return [r for r in seen if not (r[0] == 0 and r[1] < DELETED_BELOW)]


def _expected(visible: list[tuple]) -> dict[int, dict[str, int]]:
    out = {p: {"records": 0, "bytes": 0, "keys": 0, "dead_keys": 0} for p in range(PARTITIONS)}
    last: dict[tuple[int, bytes], bool] = {}
    for p, _, key, value in sorted(visible, key=lambda r: (r[0], r[1])):
        out[p]["records"] += 1
        out[p]["bytes"] += len(key) + (len(value) if value is not None else 0)
        last[(p, key)] = value is None
    for (p, _), dead in last.items():
        out[p]["keys"] += 1
        out[p]["dead_keys"] += dead
    return out


def _topic_state(bootstrap: str, topic: str) -> dict:
    cfg = {"bootstrap.servers": bootstrap}
    admin = AdminClient(cfg)
    return {"ends": end_offsets(cfg, topic, PARTITIONS),
            "starts": log_start_offsets(cfg, topic, PARTITIONS),
            "identity": existing_topic(admin, topic), "configs": topic_configs(admin, topic)}


@pytest.mark.slow(28)
def test_an_existing_topic_is_replayed_read_only_with_exact_counts(kafka1, cache_dir, tmp_path,
                                                                   ray_local):
    topic = "orders-store-changelog"
    visible = _foreign_topic(kafka1.bootstrap, topic)
    before = _topic_state(kafka1.bootstrap, topic)
    assert before["starts"][0] == DELETED_BELOW

    out = run_smoke(kafka1, cache_dir, tmp_path, "restore-storm", "topic.existing=true",
                    f"topic.name={topic}")
    assert out.status == "completed", out.reason
    assert _topic_state(kafka1.bootstrap, topic) == before   # not one record, config or id moved

    want = _expected(visible)
    parts = {r["partition"]: r for r in table(out.run_dir, "restore_partitions")}
    assert set(parts) == set(range(PARTITIONS))
    for p, row in parts.items():
        got = {k: row[k] for k in ("records", "bytes", "keys", "dead_keys")}
        assert got == want[p], p
        span = before["ends"][p] - before["starts"][p]
        assert row["log_start_offset"] == before["starts"][p]
        assert row["end_offset"] == before["ends"][p]
        # the transactions' two markers and the 60 aborted records have no record to read
        assert row["offsets_without_record"] == span - want[p]["records"]
    assert sum(r["offsets_without_record"] for r in parts.values()) >= 60 + 2
    (group,) = table(out.run_dir, "restore_groups")
    assert group["mode"] == "replay"
    assert group["records"] == sum(w["records"] for w in want.values())
    assert group["keys"] == sum(w["keys"] for w in want.values())
    assert group["dead_keys"] == sum(w["dead_keys"] for w in want.values())
    checks = table(out.run_dir, "verification")
    assert checks and all(c["passed"] for c in checks), [c for c in checks if not c["passed"]]
    info = manifest(out.run_dir)
    assert info["replay"] == before["identity"]
    assert set(info["cluster"]["topics"]) == {topic, f"rb-{out.run_dir.name}-live"}
    assert not any(e["kind"] == "seeded" for e in table(out.run_dir, "events"))

    # The topic's identity is part of the scenario: the same replay compares with itself, and
    # not with a replay of a topic re-created under the same name.
    run = runs.load_run(out.run_dir)
    assert compare.compare([run], [run], []).comparable
    spec = workload.load(WORKLOADS / "restore-storm.yaml", [*SHORT, "topic.existing=true",
                                                             f"topic.name={topic}"], "smoke")
    resolved = spec.model_copy(update={"topic": spec.topic.model_copy(
        update={"partitions": PARTITIONS})})
    assert info["workload"]["scenario_hash"] == resolved.scenario_hash_with(info["replay"])
    recreated = {**info["replay"], "topic_id": "another"}
    other = runs.load_run(out.run_dir)
    other.manifest["replay"] = recreated
    other.manifest["workload"]["scenario_hash"] = resolved.scenario_hash_with(recreated)
    verdict = compare.compare([run], [other], [])
    assert not verdict.comparable and "replaying orders-store-changelog" in verdict.reasons[0]


def test_a_replay_of_a_missing_topic_or_with_recreate_is_refused(kafka1, cache_dir, tmp_path,
                                                                 ray_local):
    with pytest.raises(TopicError, match=r"topic.name: no-such-topic: no such topic"):
        run_smoke(kafka1, cache_dir, tmp_path, "restore-storm", "topic.existing=true",
                  "topic.name=no-such-topic")
    request = runner.RunRequest(WORKLOADS / "restore-storm.yaml", cache_dir,
                                (*SHORT, "topic.existing=true", "topic.name=kept"), "smoke",
                                bootstrap=kafka1.bootstrap, results_dir=tmp_path / "results",
                                recreate_topics=True)
    with pytest.raises(WorkloadError, match="a replayed topic is never deleted"):
        runner.run(request)
