"""The operators' own tools against the cluster: Kafka's kafka-get-offsets and
kafka-consumer-groups (run from the broker's jars) must report what librdkafka sees."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from replaybench.clusters.artifacts import find_java, kafka_artifacts, kafka_opts
from replaybench.evaluation.probe import FAIL, PASS, Outcome, Probe
from replaybench.kafka.client_config import java_properties

PARTITIONS, PER_PARTITION = 3, 10
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
CONSUMER_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
TOOL_TIMEOUT_S = 90


def operator_tools(probe: Probe, cache_dir: Path) -> Outcome:
    topic, group = probe.topic("tools", PARTITIONS), probe.group("tools")
    for p in range(PARTITIONS):
        probe.produce(probe.producer(), topic, [(None, b"x")] * PER_PARTITION, partition=p)
    committed = {p: 3 + p for p in range(PARTITIONS)}   # a different offset per partition
    member = probe.consumer(group)
    member.commit(offsets=[TopicPartition(topic, p, o) for p, o in committed.items()],
                  asynchronous=False)
    member.close()
    client = {"end": _ends(probe, topic),
              "committed": _committed(probe, group, topic)}
    tools = _Tools(probe, cache_dir)
    try:
        shown = {"end": tools.get_offsets(topic), "committed": tools.group_offsets(group, topic)}
    finally:
        tools.close()
    written = dict.fromkeys(range(PARTITIONS), PER_PARTITION)
    agree = shown == client and client["committed"] == committed and client["end"] == written
    return Outcome(PASS if agree else FAIL, "kafka-get-offsets and kafka-consumer-groups "
                   "--describe (Kafka's own tools, from the broker jars)",
                   f"{PARTITIONS} partitions x {PER_PARTITION} records; group offsets "
                   f"{committed} committed",
                   f"librdkafka: {client}; tools: {shown}; end offsets written: {written}")


def _ends(probe: Probe, topic: str) -> dict[int, int]:
    consumer = probe.consumer()
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), 30)[1]
                for p in range(PARTITIONS)}
    finally:
        consumer.close()


def _committed(probe: Probe, group: str, topic: str) -> dict[int, int]:
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p)
                                                   for p in range(PARTITIONS)])
    parts = probe.admin.list_consumer_group_offsets([request])[group].result(30).topic_partitions
    return {tp.partition: tp.offset for tp in parts}


class _Tools:
    """Kafka's tool classes run with `java -cp`, with the cluster's client settings in a
    command-config file of a temp dir of its own (it may hold secrets: removed by close())."""

    def __init__(self, probe: Probe, cache_dir: Path) -> None:
        self.java = find_java().path
        self.classpath = f"{kafka_artifacts().fetch(cache_dir)}/*"
        self.bootstrap = probe.config["bootstrap.servers"]
        self._dir = tempfile.TemporaryDirectory(prefix="rb-tools-")
        self.config = Path(self._dir.name) / "client.properties"
        self.config.write_text("".join(f"{k}={v}\n" for k, v in
                                       java_properties(probe.config).items()))

    def get_offsets(self, topic: str) -> dict[int, int]:
        lines = self._run(GET_OFFSETS, "--topic", topic, "--time", "-1",
                          "--command-config", str(self.config))
        return {int(p): int(o) for line in lines if line.startswith(f"{topic}:")
                for _, p, o in [line.rsplit(":", 2)]}

    def group_offsets(self, group: str, topic: str) -> dict[int, int]:
        lines = self._run(CONSUMER_GROUPS, "--describe", "--group", group,
                          "--command-config", str(self.config))
        header = next((line.split() for line in lines if "CURRENT-OFFSET" in line), None)
        if header is None:
            raise RuntimeError(f"kafka-consumer-groups printed no offsets table: {lines[-3:]}")
        rows = [dict(zip(header, line.split())) for line in lines if line.startswith(group)]
        return {int(r["PARTITION"]): int(r["CURRENT-OFFSET"]) for r in rows
                if r.get("TOPIC") == topic}

    def _run(self, main: str, *args: str) -> list[str]:
        result = subprocess.run([self.java, *kafka_opts(), "-cp", self.classpath, main,
                                 "--bootstrap-server",
                                 self.bootstrap, *args], capture_output=True, text=True,
                                timeout=TOOL_TIMEOUT_S)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise RuntimeError(f"{main.rsplit('.', 1)[1]} exited {result.returncode}: {last[0]}")
        return result.stdout.splitlines()

    def close(self) -> None:
        self._dir.cleanup()
