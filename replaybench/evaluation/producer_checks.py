"""Producer semantics a stateful job relies on: idempotence across a broker restart,
transactions, and exactly-once consume-transform-produce across an abort."""

from __future__ import annotations

import threading
import time
from collections import Counter

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from replaybench.evaluation.probe import FAIL, PASS, Outcome, Probe

IDEMPOTENCE_PARTITIONS = 3
CHUNK = 500            # records sent per 20 ms while the restart runs: production spans it
TAIL_RECORDS = 3000    # sent after the broker is back, so the restart falls mid-produce


def idempotent_producer(probe: Probe) -> Outcome:
    """Sequence numbers 0..n-1 spread over 3 partitions by an idempotent producer while a broker
    restarts; each acknowledged one must be read back exactly once, in order."""
    topic = probe.topic("idempotence", IDEMPOTENCE_PARTITIONS)
    producer = probe.producer(**{"enable.idempotence": True, "message.timeout.ms": 120_000})
    acked: set[int] = set()
    failed: list[str] = []

    def delivered(err, msg) -> None:
        if err is None:
            acked.add(int(msg.value()))
        else:
            failed.append(str(err))

    restart = _restart_in_background(probe)   # None: this cluster cannot restart a broker
    sent = _produce_through(restart, producer, topic, delivered)
    if producer.flush(120):
        failed.append("records still unacknowledged after 120 s")
    if restart is not None and restart.error:
        raise RuntimeError(f"the broker restart failed: {restart.error}")
    dup, missing, disorder = _judge(probe.read_all(topic, IDEMPOTENCE_PARTITIONS), acked)
    scope = "across a broker restart mid-produce" if restart else \
        "without a broker restart (this cluster cannot restart a broker)"
    ok = dup == missing == disorder == 0 and not failed
    return Outcome(PASS if ok else FAIL, scope,
                   f"{sent:,} sequence numbers over {IDEMPOTENCE_PARTITIONS} partitions, "
                   f"enable.idempotence=true, acks=all",
                   f"{len(acked):,} acknowledged: {dup} read twice, {missing} missing, "
                   f"{disorder} out of order; {len(failed)} delivery errors",
                   "; ".join(failed[:2]))


def _produce_through(restart: _Restart | None, producer, topic: str, delivered) -> int:
    """Send in chunks until the restart is over, then TAIL_RECORDS more; returns how many."""
    sent, stop_at = 0, None
    while stop_at is None or sent < stop_at:
        for _ in range(CHUNK):
            _send(producer, topic, sent, sent % IDEMPOTENCE_PARTITIONS, delivered)
            sent += 1
        producer.poll(0.02)
        if stop_at is None and (restart is None or not restart.thread.is_alive()):
            stop_at = sent + TAIL_RECORDS
    return sent


def _judge(read: list, acked: set[int]) -> tuple[int, int, int]:
    """(values read twice, acknowledged values missing, partitions' steps backwards)."""
    values = [int(v) for _, _, _, v in read]
    dup = sum(c - 1 for c in Counter(values).values() if c > 1)
    disorder = sum(_out_of_order([int(v) for part, _, _, v in read if part == p])
                   for p in range(IDEMPOTENCE_PARTITIONS))
    return dup, len(acked - set(values)), disorder


class _Restart:
    def __init__(self, action) -> None:
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, args=(action,), daemon=True)

    def _run(self, action) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - reported by the check
            self.error = str(exc).splitlines()[0]


def _restart_in_background(probe: Probe) -> _Restart | None:
    if probe.restart is None:
        return None
    restart = _Restart(probe.restart)
    restart.thread.start()
    return restart


def _send(producer, topic: str, value: int, partition: int, delivered) -> None:
    while True:
        try:
            producer.produce(topic, str(value).encode(), partition=partition, on_delivery=delivered)
            return
        except BufferError:
            producer.poll(0.05)


def _out_of_order(values: list[int]) -> int:
    return sum(1 for a, b in zip(values, values[1:]) if b < a)


def transactions(probe: Probe) -> Outcome:
    """Commit 100, abort 100, commit 100: read_committed sees the 200 committed, never an
    aborted one; read_uncommitted sees all 300 (the aborted ones were really written)."""
    topic = probe.topic("transactions")
    producer = _transactional(probe, "tx")
    for batch, commit in (("a", True), ("b", False), ("c", True)):
        producer.begin_transaction()
        probe.produce(producer, topic, [(None, f"{batch}{i}".encode()) for i in range(100)])
        producer.commit_transaction(30) if commit else producer.abort_transaction(30)
    committed = [v.decode() for *_, v in probe.read_all(topic, 1, "read_committed")]
    everything = probe.read_all(topic, 1, "read_uncommitted")
    aborted_seen = sum(v.startswith("b") for v in committed)
    ok = len(committed) == 200 and aborted_seen == 0 and len(everything) == 300
    return Outcome(PASS if ok else FAIL, "one transactional producer",
                   "3 transactions of 100 records: commit, abort, commit",
                   f"read_committed: {len(committed)} records, {aborted_seen} from the aborted "
                   f"transaction; read_uncommitted: {len(everything)}")


def consume_transform_produce(probe: Probe) -> Outcome:
    """An exactly-once pipeline: input offsets committed inside the output transaction. After
    a commit, an abort and a restart from the committed offsets, every input record appears
    in the output exactly once and the group's committed offset is the input's end."""
    source, sink = probe.topic("ctp-in"), probe.topic("ctp-out")
    probe.produce(probe.producer(), source, [(None, str(i).encode()) for i in range(150)])
    group = probe.group("ctp")
    producer = _transactional(probe, "ctp")
    steps = []
    for commit in (True, False, True):
        consumer = probe.consumer(group, **{"isolation.level": "read_committed"})
        consumer.subscribe([source])
        batch = _take(consumer, 50)
        producer.begin_transaction()
        probe.produce(producer, sink, [(None, f"out-{m.value().decode()}".encode()) for m in batch])
        next_offset = TopicPartition(source, 0, batch[-1].offset() + 1)
        producer.send_offsets_to_transaction([next_offset], consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(30) if commit else producer.abort_transaction(30)
        steps.append(f"{'commit' if commit else 'abort'} {batch[0].offset()}..{batch[-1].offset()}")
        consumer.close()
    out = Counter(v.decode() for *_, v in probe.read_all(sink, 1))
    committed = probe.admin.list_consumer_group_offsets(
        [_group_request(group, source)])[group].result(30).topic_partitions[0].offset
    missing = sum(1 for i in range(100) if out[f"out-{i}"] == 0)
    doubled = sum(c - 1 for c in out.values() if c > 1)
    ok = len(out) == 100 and missing == doubled == 0 and committed == 100
    return Outcome(PASS if ok else FAIL, "one group, one transactional producer",
                   f"150 input records; {', '.join(steps)}",
                   f"output: {sum(out.values())} records, {missing} inputs missing, {doubled} "
                   f"doubled; committed input offset {committed} (100 expected)")


def _transactional(probe: Probe, suffix: str):
    producer = probe.producer(**{"transactional.id": probe.name(suffix),
                                 "transaction.timeout.ms": 60_000})
    producer.init_transactions(30)   # a broker without transactions refuses it (unsupported)
    return producer


def _take(consumer, count: int, timeout_s: float = 30.0) -> list:
    taken, deadline = [], time.monotonic() + timeout_s
    while len(taken) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumed {len(taken)} of {count} input records in {timeout_s:.0f} s")
        for msg in consumer.consume(count - len(taken), 0.5):
            if msg.error() is None:
                taken.append(msg)
            elif msg.error().code() != KafkaError._PARTITION_EOF:
                raise KafkaException(msg.error())
    return taken


def _group_request(group: str, topic: str):
    from confluent_kafka import ConsumerGroupTopicPartitions
    return ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
