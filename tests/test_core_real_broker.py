"""The record core over messages consumed from a real broker: exact verification, corrupt
records caught, foreign topics counted."""

import numpy as np
import pytest
from confluent_kafka import Producer

from replaybench.format import core
from replaybench.roles.restore_reader import RestoreReader, end_offsets
from replaybench.roles.seeder import ChangelogSeeder, SeedSpec, expected_state, plan_changelog

from tests.kafka_helpers import create_topic


def test_plan_gives_per_key_versions_in_write_order():
    spec = SeedSpec("t", keys=50, records=2_000, value_bytes=64, tombstone_ratio=0.1, seed=3)
    key_ids, versions, tomb = plan_changelog(spec)
    seen: dict[int, int] = {}
    for k, v, t in zip(key_ids.tolist(), versions.tolist(), tomb.tolist()):
        if not t:
            assert v == seen.get(k, 0) + 1
            seen[k] = v
    exp_versions, exp_live = expected_state(50, key_ids, versions, tomb)
    assert exp_versions.tolist() == [seen[k] for k in range(50)]
    last_is_tomb = {k: t for k, t in zip(key_ids.tolist(), tomb.tolist())}
    assert exp_live.tolist() == [0 if last_is_tomb[k] else 1 for k in range(50)]


CLIENTS = ["native", "confluent-kafka"]


@pytest.mark.parametrize("client", CLIENTS)
def test_restore_of_a_seeded_changelog_verifies_exactly(kafka1, client):
    topic = f"core-restore-{client}"
    create_topic(kafka1.bootstrap, topic, 4, 1)
    spec = SeedSpec(topic, keys=5_000, records=40_000, value_bytes=100, tombstone_ratio=0.05)
    seeded = ChangelogSeeder(kafka1.client_config(), spec).run()
    targets = end_offsets(kafka1.client_config(), topic, 4)
    assert sum(targets.values()) == seeded.records == 40_000

    reader = RestoreReader(kafka1.client_config(), topic, [0, 1, 2, 3], targets, 5_000, 4,
                           client=client)
    assert reader.client == client
    progress = reader.run_to_end(120)
    reader.close()
    assert progress.caught_up
    assert progress.records == 40_000
    assert sum(p.records for p in progress.partitions.values()) == 40_000
    assert progress.bytes == seeded.bytes
    result = core.verify(seeded.expected_versions, seeded.expected_live, reader.state)
    assert result.exact, result
    assert result.keys_expected == int(seeded.expected_live.sum()) > 4_000
    counts = reader.state.counts()
    assert counts["ok"] + counts["tombstones"] == 40_000
    assert counts["offset_gaps"] == 0 and counts["regressions"] == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_corrupt_records_on_the_wire_are_counted_and_reported(kafka1, client):
    topic = f"core-corrupt-{client}"
    create_topic(kafka1.bootstrap, topic, 1, 1)
    spec = SeedSpec(topic, keys=100, records=100, value_bytes=80)
    seeded = ChangelogSeeder(kafka1.client_config(), spec).run()
    p = Producer(kafka1.client_config())
    p.produce(topic, key=(5).to_bytes(8, "big"), value=b"not a replaybench record at all......"
              b"...............")
    p.produce(topic, key=(6).to_bytes(8, "big"), value=b"RB")
    p.flush(30)
    targets = end_offsets(kafka1.client_config(), topic, 1)
    reader = RestoreReader(kafka1.client_config(), topic, [0], targets, 100, 1, client=client)
    reader.run_to_end(60)
    reader.close()
    result = core.verify(seeded.expected_versions, seeded.expected_live, reader.state)
    assert result.corrupt_records == 2 and not result.exact
    assert result.missing == result.wrong_version == result.not_deleted == 0
    counts = reader.state.counts()
    assert (counts["bad_magic"], counts["truncated"]) == (1, 1)


def test_both_restore_clients_fold_the_same_log_to_the_same_state(kafka1):
    """The native consumer folds librdkafka's messages in C; it must agree with the fold over
    confluent-kafka's Message objects on every counter, key, offset and partition figure,
    corrupt records, foreign keys and tombstones included."""
    topic = "core-both-clients"
    create_topic(kafka1.bootstrap, topic, 3, 1)
    spec = SeedSpec(topic, keys=2_000, records=20_000, value_bytes=120, tombstone_ratio=0.1)
    ChangelogSeeder(kafka1.client_config(), spec).run()
    p = Producer(kafka1.client_config())
    p.produce(topic, key=(7).to_bytes(8, "big"), value=b"RB" * 40, partition=0)
    p.produce(topic, key=b"short", value=b"x" * 60, partition=1)
    p.produce(topic, key=None, value=None, partition=2)
    p.flush(30)
    targets = end_offsets(kafka1.client_config(), topic, 3)
    states = {}
    for client in CLIENTS:
        reader = RestoreReader(kafka1.client_config(), topic, [0, 1, 2], targets, 2_000, 3,
                               client=client)
        progress = reader.run_to_end(60)
        reader.close()
        states[client] = (reader.state, progress)
    (native, n_progress), (message, m_progress) = states["native"], states["confluent-kafka"]
    assert native.counts() == message.counts()
    assert native.counts()["records"] == sum(targets.values())
    assert native.counts()["bad_magic"] + native.counts()["bad_key"] >= 2
    assert np.array_equal(native.versions, message.versions)
    assert np.array_equal(native.live, message.live)
    assert np.array_equal(native.next_offset, message.next_offset)
    assert {p: (r.records, r.bytes) for p, r in n_progress.partitions.items()} == \
        {p: (r.records, r.bytes) for p, r in m_progress.partitions.items()}


def test_missing_and_wrong_keys_are_named_in_the_verification():
    state = core.StateTable(10, 1)
    expected_versions = np.array([1, 2, 3, 0, 1, 1, 1, 1, 1, 1], np.int64)
    expected_live = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1], np.uint8)
    state.versions[:] = expected_versions
    state.live[:] = expected_live
    state.live[4] = 0            # missing
    state.versions[2] = 2        # wrong version
    state.live[3] = 1            # should have been deleted
    result = core.verify(expected_versions, expected_live, state)
    assert (result.missing, result.wrong_version, result.not_deleted) == (1, 1, 1)
    assert result.samples == {"missing": [4], "wrong_version": [2], "not_deleted": [3]}


def test_foreign_topic_is_counted_without_headers(kafka1):
    topic = "core-foreign"
    create_topic(kafka1.bootstrap, topic, 2, 1)
    p = Producer(kafka1.client_config())
    for i in range(3_000):
        p.produce(topic, key=f"user-{i % 700}".encode(), value=None if i % 10 == 0 else b"{}" * 5)
    p.flush(30)
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({**kafka1.client_config(), "group.id": "foreign", "enable.partition.eof": True})
    c.assign([TopicPartition(topic, q, 0) for q in range(2)])
    counter = core.ForeignState(2, initial_slots=64)
    while counter.counts()["records"] < 3_000:
        counter.fold(c.consume(500, timeout=1.0))
    c.close()
    counts = counter.counts()
    assert counts["records"] == 3_000 and counts["errors"] == 0
    assert counts["tombstones"] == 300
    assert counts["distinct_keys"] == 700
    # key i % 700 was last written at i in 2300..2999, a tombstone where i % 10 == 0
    assert counts["dead_keys"] == sum(i % 10 == 0 for i in range(2_300, 3_000))
