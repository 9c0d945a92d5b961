"""What a lag exporter and a mirror's sampler read, against a real broker."""

from __future__ import annotations

import time

from confluent_kafka import Producer

from replaybench.engine import group_offsets
from replaybench.engine.group_offsets import OffsetReader

from tests.kafka_helpers import create_topic


def test_the_last_record_of_a_transactional_partition_is_found_behind_its_marker(
        kafka1, monkeypatch):
    """A transaction's commit marker takes the partition's last offset and holds no record
    (and a mirror does not copy it): read from the end alone, the partition looked empty,
    and a mirror of an exactly-once changelog never looked caught up."""
    topic = "offsets-transactional"
    create_topic(kafka1.bootstrap, topic, 1, 1)
    producer = Producer({**kafka1.client_config(), "transactional.id": "rb-test-offsets"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
    producer.commit_transaction(30)
    reader = OffsetReader(kafka1.client_config())
    try:
        # all 0 until the reader's metadata has the new topic (seen once in a loaded suite)
        deadline = time.monotonic() + 15
        while reader.ends(topic, 1) != {0: 6} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert reader.ends(topic, 1) == {0: 6}   # five records and the marker
        assert reader.last_records(topic, 1) == {0: b"k4|v4"}
        monkeypatch.setattr(group_offsets, "LAST_WINDOW", 1)   # the end alone: the marker
        assert reader.last_records(topic, 1) == {0: None}
    finally:
        reader.close()
