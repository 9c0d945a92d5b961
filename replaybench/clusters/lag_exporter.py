"""The consumer lag a lag exporter shows, for any cluster: at each scrape, every consumer group's
committed offsets against its partitions' end offsets, through the Admin API, served as
kafka_exporter (danielqsj/kafka_exporter, the one most dashboards are built on) names it:

    kafka_consumergroup_lag{consumergroup, topic, partition}             end - committed
    kafka_consumergroup_current_offset{consumergroup, topic, partition}  committed
    kafka_topic_partition_current_offset{topic, partition}               end

It sees what any exporter sees: offsets the groups committed, not what their consumers have
read. A scrape the cluster cannot answer in time (a broker being replaced) serves no lag,
as an exporter's would: a gap, not a zero.

Served on 127.0.0.1 (the `prometheus_client` package) by a process of its own while the `with`
lasts, and scraped by the run's Prometheus like the brokers."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily

from replaybench.clusters import health
from replaybench.clusters.ports import LOOPBACK, free_ports
from replaybench.clusters.processes import ServerProcess, tail
from replaybench.errors import ClusterError

#: a scrape must be answered within the Prometheus scrape timeout (2 s): the whole of it
ANSWER_S = 1.5
START_S = 20.0     #: the exporter process must answer a scrape within this
RESTART_S = 1.0    #: a worker that died is started again after this
#: below the servers and the harness it watches: while a broker is down but still in the
#: metadata, librdkafka's admin client spins (its main and that broker's threads, ~0.35 of a
#: core for the 10-20 s until the broker is fenced), which would take CPU from what is measured
NICE = 10
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
    """The exporter as its own process (a lag exporter is a server of the platform's, and a
    client library that aborts in it must not take the run down), stopped by pid. Its client
    config, which may hold a password, goes to it in a file only its owner reads, in `root`
    (a folder of the caller's, removed by the caller)."""

    def __init__(self, root: Path, config: dict[str, str]) -> None:
        self.root, self.config = Path(root), dict(config)
        self.port = free_ports(1)[0]
        self.process: ServerProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def __enter__(self) -> LagExporter:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "client.json"
        config.touch(mode=0o600)
        config.write_text(json.dumps(self.config))
        # the argv names the config's path under root: the pid's marker
        self.process = ServerProcess.spawn(
            [sys.executable, "-m", "replaybench.clusters.lag_exporter", "supervise",
             str(config), str(self.port)], str(config), self.root / "lag-exporter.log",
            self.root, env=_importable())
        try:
            health.wait_until(self._answers, START_S, f"the lag exporter on {self.endpoint}",
                              self._alive)
        except ClusterError:
            self.process.stop(timeout_s=5.0)
            raise
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.endpoint}/metrics", timeout=2):
                return True
        except OSError:
            return False

    def _alive(self) -> None:
        if not self.process.alive():
            raise ClusterError("the lag exporter exited at start: "
                               f"{tail(self.root / 'lag-exporter.log', 1).strip()}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=5.0)


def _importable() -> dict[str, str]:
    """Our environment, with this replaybench importable wherever the process starts (from a
    source tree as from an installed package)."""
    here = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": here + (os.pathsep + path if path else "")}


def serve(config_path: Path, port: int) -> None:
    """The worker: the collector on 127.0.0.1:port until SIGTERM."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(json.loads(Path(config_path).read_text())))
    start_http_server(port, addr=LOOPBACK, registry=registry)
    signal.sigwait({signal.SIGTERM})


def supervise(config_path: Path, port: int) -> None:
    """Runs the worker, and runs it again when it dies (librdkafka's admin client can abort on
    an assertion while brokers come and go), as a service manager would; on SIGTERM stops it
    (its own child, by pid) and exits."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})
    os.nice(NICE)   # the worker inherits it
    argv = [sys.executable, "-m", "replaybench.clusters.lag_exporter", "worker",
            str(config_path), str(port)]
    worker = subprocess.Popen(argv)
    while signal.sigwait({signal.SIGTERM, signal.SIGCHLD}) != signal.SIGTERM:
        if worker.poll() is not None:
            print(f"lag exporter worker ended ({worker.returncode}); starting it again",
                  flush=True)
            time.sleep(RESTART_S)
            worker = subprocess.Popen(argv)
    worker.terminate()
    worker.wait()


def main(argv: list[str]) -> None:
    role, config_path, port = argv
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})   # taken by sigwait
    (serve if role == "worker" else supervise)(Path(config_path), int(port))


if __name__ == "__main__":
    main(sys.argv[1:])
