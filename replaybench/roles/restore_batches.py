"""Where a restore reader's batches come from: two interchangeable clients, one job each.

- NativeBatches: librdkafka's batches folded in C (ext/rdkafka_reader.pyx), no Python object per
  record; the default wherever it is built.
- MessageBatches: confluent-kafka's Consumer.consume() and core.StateTable.fold over its Message
  objects; the fallback, and the client every other role uses.

Both take the same librdkafka properties and fold into the same StateTable and Columns, so a
restore's figures differ only by the client's own cost per record.
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from replaybench.errors import RunError
from replaybench.format.core import Columns, ForeignState, StateTable
from replaybench.roles.native_reader import batch_consumer_class


class NativeBatches:
    name = "native"

    def __init__(self, config: dict, topic: str, capacity: int) -> None:
        cls = batch_consumer_class()
        if cls is None:
            raise RunError("the native restore consumer is not built (apt install "
                           "librdkafka-dev, then pip install -e .)")
        self.topic = topic
        self.consumer = cls(config, topic, capacity)

    def assign(self, partitions: list[int]) -> None:
        self.consumer.assign(partitions, 0)

    def unassign(self) -> None:
        self.consumer.unassign()

    def high_watermark(self, partition: int) -> int:
        """As of the last fetch response; -1 when not known yet."""
        return self.consumer.cached_watermarks(partition)[1]

    def take(self, state: StateTable, columns: Columns,
             timeout_s: float) -> tuple[int, int, int]:
        """Fold one batch into state; (records taken, ns waiting on the client, ns folding)."""
        n, consume_ns, fold_ns, error = self.consumer.consume_fold(
            max(int(timeout_s * 1000), 0), state.versions, state.live, state.next_offset,
            state.counters, columns)
        if error is not None:
            raise KafkaException(KafkaError(*error))
        return n, consume_ns, fold_ns

    def close(self) -> None:
        self.consumer.close()


class MessageBatches:
    name = "confluent-kafka"

    def __init__(self, config: dict, topic: str, capacity: int) -> None:
        self.topic, self.capacity = topic, capacity
        self.consumer = Consumer(config)

    def assign(self, partitions: list[int]) -> None:
        # From the log start, wherever retention or deletion has moved it.
        self.consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions])

    def unassign(self) -> None:
        self.consumer.unassign()

    def high_watermark(self, partition: int) -> int:
        return self.consumer.get_watermark_offsets(TopicPartition(self.topic, partition),
                                                   cached=True)[1]

    def take(self, state: StateTable | ForeignState, columns: Columns,
             timeout_s: float) -> tuple[int, int, int]:
        start = time.monotonic_ns()
        messages = self.consumer.consume(self.capacity, timeout=timeout_s)
        folded = time.monotonic_ns()
        if messages:
            errors_before = state.errors()
            state.fold(messages, columns=columns)
            if state.errors() != errors_before:
                _raise_real_errors(messages)
        return len(messages), folded - start, time.monotonic_ns() - folded

    def close(self) -> None:
        self.consumer.close()


def open_batches(config: dict, topic: str, capacity: int, client: str = "auto"):
    """client: "native", "confluent-kafka", or "auto" (native where it is built)."""
    if client == "confluent-kafka" or (client == "auto" and batch_consumer_class() is None):
        return MessageBatches(config, topic, capacity)
    return NativeBatches(config, topic, capacity)


def _raise_real_errors(messages: list) -> None:
    for msg in messages:
        err = msg.error()
        if err is not None and err.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(err)
