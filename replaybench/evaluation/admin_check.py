"""The Admin API operators use on a job's topics and groups: topics and their configs, more
partitions, and describing and resetting a group's committed offsets."""

from __future__ import annotations

import time

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    ResourceType,
)

from replaybench.evaluation.probe import FAIL, PASS, UNSUPPORTED, Outcome, Probe, refusal

RECORDS = 10
SETTLE_S = 10.0   # how long a committed change may take to show in a describe


def admin_api(probe: Probe) -> Outcome:
    """Each step is judged on its own; the outcome lists them all."""
    topic = probe.topic("admin", 2, {"retention.ms": "3600000"})
    group = probe.group("admin")
    steps: list[tuple[str, str]] = []   # (step, ok | unsupported | what went wrong)
    for name, step in _STEPS:
        try:
            result = step(probe, topic, group)
            steps.append((name, "ok" if result is True else str(result)))
        except Exception as exc:  # noqa: BLE001 - one step's failure is that step's evidence
            why = refusal(exc)
            steps.append((name, f"unsupported ({why})" if why else
                          f"error: {str(exc).splitlines()[0]}"))
    failed = [s for s in steps if s[1] != "ok" and not s[1].startswith("unsupported")]
    status = FAIL if failed else UNSUPPORTED if any(s[1] != "ok" for s in steps) else PASS
    return Outcome(status, "AdminClient (librdkafka)",
                   "; ".join(name for name, _ in steps),
                   "; ".join(f"{name}: {verdict}" for name, verdict in steps))


def _describe_topic(probe: Probe, topic: str, _group: str):
    desc = _once_known(lambda: probe.admin.describe_topics(TopicCollection([topic]))[topic]
                       .result(30))
    leaders = [p.leader for p in desc.partitions]
    return True if len(leaders) == 2 and all(leaders) else f"partitions/leaders {leaders}"


def _topic_config(probe: Probe, topic: str) -> str | None:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    entries = _once_known(lambda: probe.admin.describe_configs([resource])[resource].result(30))
    entry = entries.get("retention.ms")
    return entry.value if entry is not None else None


def _describe_config(probe: Probe, topic: str, _group: str):
    value = _topic_config(probe, topic)
    return True if value == "3600000" else f"retention.ms {value!r} (3600000 was set)"


def _alter_config(probe: Probe, topic: str, _group: str):
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "7200000",
                    incremental_operation=AlterConfigOpType.SET)])
    probe.admin.incremental_alter_configs([resource])[resource].result(30)
    value = _eventually(lambda: _topic_config(probe, topic), "7200000")
    return True if value == "7200000" else \
        f"retention.ms {value!r} {SETTLE_S:.0f} s after setting 7200000"


def _add_partitions(probe: Probe, topic: str, _group: str):
    probe.admin.create_partitions([NewPartitions(topic, 3)])[topic].result(30)
    count = _eventually(lambda: len(probe.admin.describe_topics(TopicCollection([topic]))[topic]
                                    .result(30).partitions), 3)
    return True if count == 3 else f"{count} partitions {SETTLE_S:.0f} s after 2 -> 3"


def _once_known(read, interval_s: float = 0.2):
    """A topic created a moment ago reaches the broker that answers a describe a moment later
    (KRaft metadata propagation; seen on a loaded 2-core machine): a describe that says the
    topic is unknown is asked again, for at most SETTLE_S."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            return read()
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or \
                    error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART or \
                    time.monotonic() > deadline:
                raise
            time.sleep(interval_s)


def _eventually(read, want, interval_s: float = 0.2):
    """A change the controller committed reaches the broker that answers a describe a moment
    later (KRaft metadata propagation): read until it shows, at most SETTLE_S."""
    deadline = time.monotonic() + SETTLE_S
    while (value := read()) != want and time.monotonic() < deadline:
        time.sleep(interval_s)
    return value


def _group_offsets(probe: Probe, topic: str, group: str):
    """A member consumes and commits, then leaves: the group is described and its offsets
    read back as the member committed them."""
    probe.produce(probe.producer(), topic, [(None, b"x")] * RECORDS, partition=0)
    consumer = probe.consumer(group)
    consumer.assign([TopicPartition(topic, 0, 0)])
    taken, deadline = 0, time.monotonic() + 30
    while taken < RECORDS and time.monotonic() < deadline:
        taken += sum(1 for m in consumer.consume(RECORDS, 1.0) if m.error() is None)
    consumer.commit(asynchronous=False)
    consumer.close()
    described = probe.admin.describe_consumer_groups([group])[group].result(30)
    committed = _committed(probe, group, topic)
    return True if committed == RECORDS else \
        f"group {described.state}: committed {committed}, {RECORDS} were"


def _reset_offsets(probe: Probe, topic: str, group: str):
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 0)])
    probe.admin.alter_consumer_group_offsets([request])[group].result(30)
    committed = _committed(probe, group, topic)
    return True if committed == 0 else f"committed {committed} after a reset to 0"


def _committed(probe: Probe, group: str, topic: str) -> int:
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0)])
    return probe.admin.list_consumer_group_offsets([request])[group].result(30) \
        .topic_partitions[0].offset


_STEPS = [("describe topic", _describe_topic), ("describe config", _describe_config),
          ("alter config", _alter_config), ("add partitions", _add_partitions),
          ("describe group offsets", _group_offsets), ("reset group offsets", _reset_offsets)]
