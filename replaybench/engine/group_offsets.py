"""What a lag exporter reads, on any cluster: a topic's end offsets, a consumer group's committed
offsets, and each partition's last record, through one long-lived consumer and admin client
per cluster (a new client per question costs a connection, and a topic that does not exist yet
would cost a metadata timeout per partition).

Asked between ticks and from a mirror's sampler thread, so every answer is quick: a topic not
there yet answers zeros at once.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from replaybench.clusters import health

_METADATA_TIMEOUT_S = 2.0
_OFFSETS_TIMEOUT_S = 4.0   #: a group's committed offsets: asked between ticks, so short
LAST_WINDOW = 32   #: offsets read back from a partition's end to find its last record


class NotYet(Exception):
    """The cluster cannot answer that now (a partition without a leader yet, a coordinator
    moving): ask again at the next tick."""


class OffsetReader:
    def __init__(self, config: dict) -> None:
        self.config = config
        self._consumer = Consumer({**config, "group.id": "replaybench-offsets",
                                   "enable.auto.commit": False, "fetch.wait.max.ms": 10,
                                   "enable.partition.eof": True, "log_level": 2})
        self._admin = health.admin_for(config)
        self._lock = threading.Lock()   # one question at a time per client

    def exists(self, topic: str) -> bool:
        try:
            meta = self._admin.list_topics(topic, timeout=_METADATA_TIMEOUT_S).topics.get(topic)
        except KafkaException as exc:   # the cluster unreachable: a broker down or restarting
            raise NotYet(str(exc.args[0])) from None
        return meta is not None and meta.error is None and bool(meta.partitions)

    def ends(self, topic: str, partitions: int) -> dict[int, int]:
        """Each partition's end offset (all 0 while the topic does not exist: a mirror has not
        created it yet)."""
        with self._lock:
            if not self.exists(topic):
                return dict.fromkeys(range(partitions), 0)
            try:
                return {p: self._consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=_METADATA_TIMEOUT_S)[1]
                    for p in range(partitions)}
            except KafkaException as exc:   # e.g. NOT_LEADER_FOR_PARTITION just after creation
                raise NotYet(str(exc.args[0])) from None

    def caught_up(self, group: str, topic: str, partitions: int) -> bool:
        """The group has committed everything the topic holds here (lag 0, as a lag exporter
        computes it; an empty partition needs no commit); False while the cluster cannot
        say."""
        try:
            ends = self.ends(topic, partitions)
            done = self.committed(group, topic, partitions)
        except NotYet:
            return False
        return all(done[p] >= ends[p] for p in ends if ends[p] > 0)

    def committed(self, group: str, topic: str, partitions: int) -> dict[int, int]:
        """The group's committed offset per partition (-1: none)."""
        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p)
                                                       for p in range(partitions)])
        with self._lock:
            future = self._admin.list_consumer_group_offsets(
                [request], request_timeout=_OFFSETS_TIMEOUT_S)[group]
            try:
                answer = future.result(timeout=_OFFSETS_TIMEOUT_S + 1).topic_partitions
            except KafkaException as exc:   # e.g. COORDINATOR_LOAD_IN_PROGRESS
                raise NotYet(str(exc.args[0])) from None
            except concurrent.futures.TimeoutError:   # a coordinator restarting: no answer
                raise NotYet(f"no answer within {_OFFSETS_TIMEOUT_S + 1:g} s") from None
        out = dict.fromkeys(range(partitions), -1)
        for tp in answer:
            if tp.error is None and tp.offset >= 0:
                out[tp.partition] = tp.offset
        return out

    def last_records(self, topic: str, partitions: int,
                     timeout_s: float = 5.0) -> dict[int, bytes | None]:
        """Each partition's last record as key and value bytes (None: empty partition). A
        mirror has copied a partition when the copy ends with the original's last record: it
        copies in order, so offsets alone would not do (a copy holding records twice reaches
        the original's end offset before it holds every record)."""
        tops = self.ends(topic, partitions)
        out: dict[int, bytes | None] = dict.fromkeys(range(partitions))
        todo = {p for p, end in tops.items() if end > 0}
        with self._lock:
            # from a few offsets back: in a transactional topic the last offsets are commit
            # markers, which hold no record (and a mirror does not copy)
            self._consumer.assign([TopicPartition(topic, p, max(tops[p] - LAST_WINDOW, 0))
                                   for p in todo])
            deadline = time.monotonic() + timeout_s
            while todo and time.monotonic() < deadline:
                for msg in self._consumer.consume(100, timeout=0.1):
                    # read on to the partition's end: some brokers' watermark is a batch's
                    # base offset (Tansu 0.6), not one past the last record
                    if msg.error() is None:
                        out[msg.partition()] = (msg.key() or b"") + b"|" + (msg.value() or b"")
                    elif msg.error().code() == KafkaError._PARTITION_EOF:
                        todo.discard(msg.partition())
            self._consumer.unassign()
        return out

    def close(self) -> None:
        with self._lock:
            self._consumer.close()
