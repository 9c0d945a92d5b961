"""The consumer lag a lag exporter shows, for any cluster: at each scrape, every consumer group's
committed offsets against its partitions' end offsets, through the Admin API, served as
kafka_exporter (danielqsj/kafka_exporter, the one most dashboards are built on) names it:

    kafka_consumergroup_lag{consumergroup, topic, partition}             end - committed
    kafka_consumergroup_current_offset{consumergroup, topic, partition}  committed
    kafka_topic_partition_current_offset{topic, partition}               end

It sees what any exporter sees: offsets the groups committed, not what their consumers have
read. A scrape the cluster cannot answer in time (a broker being replaced) serves no lag,
as an exporter's would: a gap, not a zero.

Served on 127.0.0.1 (the `prometheus_client` package, a registry of its own) while the `with`
lasts, and scraped by the run's Prometheus like the brokers."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily

from replaybench.clusters import health
from replaybench.clusters.ports import LOOPBACK, free_ports

#: a scrape must be answered within the Prometheus scrape timeout (2 s): the whole of it
ANSWER_S = 1.5
_GROUP = ("consumergroup", "topic", "partition")
_UNANSWERED = (KafkaException, concurrent.futures.TimeoutError)


class LagCollector:
    """Asks the cluster at each collect() (a prometheus_client custom collector)."""

    def __init__(self, config: dict[str, str]) -> None:
        self.admin = health.admin_for(config)
        self.groups: set[str] = set()   #: every group listed so far

    def describe(self) -> list:
        return []   # nothing asked of the cluster when the collector is registered

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily("kafka_consumergroup_lag", "end offset - committed offset",
                                labels=_GROUP)
        current = GaugeMetricFamily("kafka_consumergroup_current_offset",
                                    "the group's committed offset", labels=_GROUP)
        ends_out = GaugeMetricFamily("kafka_topic_partition_current_offset",
                                     "the partition's end offset", labels=_GROUP[1:])
        deadline = time.monotonic() + ANSWER_S
        committed = self.committed(deadline)
        ends = self.ends({tp for offsets in committed.values() for tp in offsets}, deadline)
        for (topic, partition), end in sorted(ends.items()):
            ends_out.add_metric([topic, str(partition)], end)
        for group, offsets in sorted(committed.items()):
            for (topic, partition), offset in sorted(offsets.items()):
                if (topic, partition) in ends:
                    labels = [group, topic, str(partition)]
                    current.add_metric(labels, offset)
                    lag.add_metric(labels, max(ends[(topic, partition)] - offset, 0))
        yield from (lag, current, ends_out)

    def committed(self, deadline: float) -> dict[str, dict[tuple[str, int], int]]:
        """Every group's committed offsets (groups that committed none are left out)."""
        self.groups |= self.listed(deadline)
        # librdkafka asks one group per request: all asked at once, each answer awaited
        futures = {group: self.admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=_left(deadline))[group]
            for group in sorted(self.groups)}
        out = {}
        for group, future in futures.items():
            try:
                answer = future.result(timeout=_left(deadline)).topic_partitions
            except _UNANSWERED:   # its coordinator moving: this group is left out this time
                continue
            found = {(tp.topic, tp.partition): tp.offset for tp in answer
                     if tp.error is None and tp.offset >= 0}
            if found:
                out[group] = found
        return out

    def listed(self, deadline: float) -> set[str]:
        """The groups the brokers that answer in time list. Every broker is asked: while one
        is down, the others' groups are still listed (and those listed before are kept)."""
        try:
            return {g.group_id for g in self.admin.list_consumer_groups(
                request_timeout=_left(deadline) / 2).result(timeout=_left(deadline) / 2).valid}
        except _UNANSWERED:
            return set()

    def ends(self, partitions: set[tuple[str, int]],
             deadline: float) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        asked = {TopicPartition(t, p): OffsetSpec.latest() for t, p in partitions}
        futures = self.admin.list_offsets(asked, request_timeout=_left(deadline))
        out = {}
        for tp, future in futures.items():
            try:
                out[(tp.topic, tp.partition)] = future.result(timeout=_left(deadline)).offset
            except _UNANSWERED:   # no leader just now: that partition is left out this time
                continue
        return out


def _left(deadline: float) -> float:
    """Seconds left for this scrape (a little at least, so that a request is still sent)."""
    return max(deadline - time.monotonic(), 0.05)


class LagExporter:
    """The collector served on a free loopback port for the length of the `with`."""

    def __init__(self, config: dict[str, str]) -> None:
        self.port = free_ports(1)[0]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LagCollector(config))
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def __enter__(self) -> LagExporter:
        self._server, _ = start_http_server(self.port, addr=LOOPBACK, registry=self.registry)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
