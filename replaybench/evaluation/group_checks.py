"""Consumer groups and offsets: what a job's restart and an operator's reset depend on."""

from __future__ import annotations

import time

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from replaybench.evaluation.probe import FAIL, PASS, Outcome, Probe, step

GROUP_PARTITIONS, PER_PARTITION = 4, 100


def consumer_groups(probe: Probe) -> Outcome:
    """Two members join and split 4 partitions, read 100 records each to the end and commit;
    the committed offsets read back equal their positions. Then 100 more records per
    partition, one member leaves, and the other must take over from its commits: every
    record read exactly once."""
    topic = probe.topic("groups", GROUP_PARTITIONS)
    group = probe.group("groups")
    a, b = _Member(probe.consumer(group), topic), _Member(probe.consumer(group), topic)
    seen: list[int] = []
    started = time.monotonic()
    _poll_until(lambda: a.assigned() and b.assigned(), (a, b), seen, "both members assigned")
    split, joined_s = (len(a.assigned()), len(b.assigned())), time.monotonic() - started
    _fill(probe, topic, 0)   # only now: no record is read before the split is settled
    for member in (a, b):
        member.at_end.clear()
    _poll_until(lambda: a.read_to_end() and b.read_to_end(), (a, b), seen,
                "both members at the end of their partitions")
    positions = {(tp.partition, tp.offset) for m in (a, b) for tp in m.positions()}
    for member in (a, b):
        member.consumer.commit(asynchronous=False)
    fetched = {(tp.partition, tp.offset) for tp in probe.admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group)])[group].result(30).topic_partitions}
    b.consumer.close()   # leaves the group: a must take over b's partitions from b's commits
    started = time.monotonic()
    _poll_until(lambda: len(a.assigned()) == GROUP_PARTITIONS, (a,), seen,
                "the remaining member assigned every partition")
    took_over_s = time.monotonic() - started
    # only now: a record a read before the rebalance and had not committed would be read
    # again after it, as at-least-once allows
    first = len(seen)
    _fill(probe, topic, GROUP_PARTITIONS * PER_PARTITION)
    _poll_until(lambda: len(seen) - first >= GROUP_PARTITIONS * PER_PARTITION, (a,), seen,
                "the new records consumed by the remaining member")
    a.consumer.close()
    total = 2 * GROUP_PARTITIONS * PER_PARTITION
    doubled = len(seen) - len(set(seen))
    ok = split[0] and split[1] and positions == fetched and \
        set(seen) == set(range(total)) and doubled == 0
    return Outcome(PASS if ok else FAIL, "classic group protocol, 2 members, 4 partitions",
                   f"{PER_PARTITION} records per partition, read to the end and committed; "
                   f"{PER_PARTITION} more each; one member leaves",
                   f"split {split[0]}+{split[1]} after {joined_s:.1f} s; committed offsets "
                   f"{'equal' if positions == fetched else 'differ from'} the positions "
                   f"({sorted(fetched)}); {len(set(seen))} of {total} records read, {doubled} "
                   f"twice; the takeover took {took_over_s:.1f} s")


def _fill(probe: Probe, topic: str, first: int) -> None:
    for p in range(GROUP_PARTITIONS):
        start = first + p * PER_PARTITION
        probe.produce(probe.producer(), topic, [(None, str(i).encode())
                                                for i in range(start, start + PER_PARTITION)],
                      partition=p)


class _Member:
    """A group member and the partitions it has read to their end since the last record."""

    def __init__(self, consumer, topic: str) -> None:
        self.consumer = consumer
        self.at_end: set[int] = set()
        consumer.subscribe([topic])

    def assigned(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def positions(self):
        return self.consumer.position(self.consumer.assignment())

    def read_to_end(self) -> bool:
        return bool(self.assigned()) and self.assigned() <= self.at_end

    def poll(self, seen: list[int]) -> None:
        for msg in self.consumer.consume(50, 0.2):
            err = msg.error()
            if err is None:
                seen.append(int(msg.value()))
                self.at_end.discard(msg.partition())
            elif err.code() == KafkaError._PARTITION_EOF:
                self.at_end.add(msg.partition())
            else:
                raise KafkaException(err)


def _poll_until(done, members, seen: list[int], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not reached within {timeout_s:.0f} s: {what}")
        for member in members:
            member.poll(seen)


OFFSET_RECORDS = 100
DELETE_BEFORE = 30


def offsets(probe: Probe) -> Outcome:
    """Earliest, latest and by-timestamp offsets of 100 records stamped a second apart; then
    delete-records below 30 moves the log start, and a reader from the beginning starts there."""
    topic = probe.topic("offsets")
    base_ms = (int(time.time()) - 3600) * 1000   # an hour ago: no clash with now
    producer = probe.producer()
    for i in range(OFFSET_RECORDS):
        producer.produce(topic, str(i).encode(), partition=0, timestamp=base_ms + i * 1000)
    if producer.flush(30):
        raise TimeoutError("records not acknowledged within 30 s")
    tp = TopicPartition(topic, 0)
    before = step("list earliest/latest", lambda: _list(probe, tp))
    by_time = step("list by timestamp", lambda: _list(probe, tp, OffsetSpec.for_timestamp(
        base_ms + 50_000)))
    low = step("delete-records", lambda: probe.admin.delete_records(
        [TopicPartition(topic, 0, DELETE_BEFORE)])[TopicPartition(topic, 0, DELETE_BEFORE)]
        .result(30).low_watermark)
    after = step("list after delete-records", lambda: _list(probe, tp))
    first = step("read from the beginning", lambda: probe.read_all(topic, 1)[0])
    got = (before, by_time, low, after, first[1])
    want = ((0, OFFSET_RECORDS), 50, DELETE_BEFORE, (DELETE_BEFORE, OFFSET_RECORDS), DELETE_BEFORE)
    return Outcome(PASS if got == want else FAIL, "one partition",
                   f"{OFFSET_RECORDS} records with timestamps 1 s apart; offset for the 51st "
                   f"timestamp; delete-records before {DELETE_BEFORE}",
                   f"earliest/latest {before}; by timestamp {by_time}; delete-records low "
                   f"watermark {low}; then earliest/latest {after}; first record read at offset "
                   f"{first[1]} (expected {want})")


def _list(probe: Probe, tp: TopicPartition, spec: OffsetSpec | None = None):
    """(earliest, latest), or the offset for `spec`."""
    def one(s: OffsetSpec) -> int:
        return probe.admin.list_offsets({tp: s}, request_timeout=30)[tp].result(30).offset
    return one(spec) if spec is not None else (one(OffsetSpec.earliest()), one(OffsetSpec.latest()))
