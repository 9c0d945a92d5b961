"""The content judge of a team's own topics on a real broker: a topic with an aborted
transaction, copied as MirrorMaker copies it by default (its source consumer reads
read_uncommitted and writes every record it gets as a plain one) and as it copies it when told
to read committed. The judge must find the aborted records in the first copy, and only there.
(That MirrorMaker 4.3.1 copies them so is measured in docs/migration.md.)"""

from __future__ import annotations

from confluent_kafka import Consumer, Producer, TopicPartition

from replaybench.engine import topic_scan
from replaybench.engine.migration_verify import content_checks
from replaybench.verdicts import mirror_content

from tests.kafka_helpers import create_topic


def _write_with_an_aborted_transaction(bootstrap: str, topic: str) -> None:
    """20 plain records, 30 in a committed transaction, 10 in an aborted one, 5 plain."""
    plain = Producer({"bootstrap.servers": bootstrap})
    for i in range(20):
        plain.produce(topic, f"v{i}".encode(), f"k{i % 4}".encode())
    plain.flush(30)
    txn = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-writer"})
    txn.init_transactions(30)
    for commit, n in ((True, 30), (False, 10)):
        txn.begin_transaction()
        for i in range(n):
            txn.produce(topic, f"{'kept' if commit else 'dropped'}-{i}".encode(), b"order")
        txn.flush(30)   # on the broker first: aborting purges what the client still holds
        txn.commit_transaction(30) if commit else txn.abort_transaction(30)
    for i in range(5):
        plain.produce(topic, f"late-{i}".encode(), None)   # without a key
    plain.flush(30)


def _copy(bootstrap: str, source: str, copy: str, isolation: str) -> None:
    """What a mirror does: read the source in order, write each record to the copy plainly."""
    create_topic(bootstrap, copy, 1, 1)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{copy}-mirror",
                         "isolation.level": isolation, "enable.partition.eof": True})
    consumer.assign([TopicPartition(source, 0, 0)])
    producer = Producer({"bootstrap.servers": bootstrap})
    while True:
        m = consumer.poll(10)
        assert m is not None, "the source never reached its end"
        if m.error() is not None:
            break   # end of the partition
        producer.produce(copy, m.value(), m.key())
    consumer.close()
    producer.flush(30)


def test_a_copy_holding_a_source_transactions_aborted_records_fails_its_check(kafka1):
    topic = "team-orders-txn"
    create_topic(kafka1.bootstrap, topic, 1, 1)
    _write_with_an_aborted_transaction(kafka1.bootstrap, topic)
    _copy(kafka1.bootstrap, topic, f"{topic}-uncommitted", "read_uncommitted")
    _copy(kafka1.bootstrap, topic, f"{topic}-committed", "read_committed")
    config = {"bootstrap.servers": kafka1.bootstrap}
    source = topic_scan.scan_hashes(config, topic, 1)
    aborted = topic_scan.aborted_hashes(config, topic, 1, source)
    assert (len(source[0][1]), len(aborted[0][1])) == (55, 10)
    judged = {}
    for kind in ("uncommitted", "committed"):
        copy = topic_scan.scan_hashes(config, f"{topic}-{kind}", 1)
        [judged[kind]] = mirror_content.judge_topic(topic, source, copy, aborted)
    bad, good = judged["uncommitted"], judged["committed"]
    assert (bad["missing"], bad["extra"], bad["aborted_copied"]) == (0, 0, 10)
    assert bad["source_aborted"] == good["source_aborted"] == 10
    failed = [c for c in content_checks([bad]) if not c["passed"]]
    assert [(c["check"], c["observed"]) for c in failed] == [
        ("aborted transactions' records in the copy", 10)]
    assert good["in_order"] and good["aborted_copied"] == 0
    assert all(c["passed"] for c in content_checks([good]))
