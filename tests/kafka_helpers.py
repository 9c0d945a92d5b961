"""Small produce/consume helpers for tests against the real broker."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from replaybench.clusters import health


def create_topic(bootstrap: str, name: str, partitions: int, replication: int,
                 config: dict[str, str] | None = None) -> None:
    client = health.admin(bootstrap)  # must outlive the future, or the request is cancelled
    futures = client.create_topics(
        [NewTopic(name, partitions, replication, config=config or {})], operation_timeout=30)
    futures[name].result(timeout=60)


def produce_range(bootstrap: str, topic: str, start: int, stop: int, acked: set[int],
                  extra: dict | None = None) -> None:
    """Produce values start..stop-1 (as decimal text); add each acknowledged one to `acked`."""
    errors: list[str] = []

    def on_delivery(err, msg):
        if err is None:
            acked.add(int(msg.value()))
        else:
            errors.append(str(err))

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5, **(extra or {})})
    for i in range(start, stop):
        while True:
            try:
                producer.produce(topic, key=str(i % 97).encode(), value=str(i).encode(),
                                 on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or errors:
        raise KafkaException(f"{remaining} undelivered, errors: {errors[:3]}")


def read_all(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """Every value in the topic, read by assignment from offset 0 up to the current end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "tests-read-all",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)}
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions) if ends[p] > 0])
    done = {p for p, end in ends.items() if end == 0}
    values: list[int] = []
    while len(done) < partitions:
        for msg in consumer.consume(1000, timeout=1.0):
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    done.add(msg.partition())
                    continue
                raise KafkaException(msg.error())
            values.append(int(msg.value()))
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
    consumer.close()
    return values
