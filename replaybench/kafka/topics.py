"""Creating the run's topics, refusing to write into a topic laid out differently."""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from replaybench.errors import UsageError


class TopicError(UsageError):
    """A topic the workload needs exists already, or cannot be created."""


def ensure_topic(admin: AdminClient, name: str, partitions: int, replication: int,
                 configs: dict[str, str], recreate: bool = False, timeout_s: float = 30.0) -> None:
    """Create `name` fresh. An existing topic is an error (a restore verified against a changelog
    it did not write proves nothing), unless `recreate` asks to delete it first."""
    existing = admin.list_topics(timeout=timeout_s).topics.get(name)
    if existing is not None:
        have = len(existing.partitions)
        if not recreate:
            layout = "the same layout" if have == partitions else \
                f"{have} partitions (the workload wants {partitions})"
            raise TopicError(f"topic {name} already exists with {layout}; pass --recreate-topics "
                             "to delete and recreate it, or name another with --set topic.name=...")
        admin.delete_topics([name], operation_timeout=timeout_s)[name].result(timeout_s)
        _wait_gone(admin, name, timeout_s)
    _create(admin, NewTopic(name, partitions, replication, config=configs), timeout_s)


# Client-side failures of a request in flight: librdkafka drops the bootstrap connection once
# it has learned the brokers, failing what was sent on it with _DESTROY_BROKER.
_IN_FLIGHT_LOST = (KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT, KafkaError._TIMED_OUT)
CREATE_ATTEMPTS = 3


def _create(admin: AdminClient, topic: NewTopic, timeout_s: float) -> None:
    """Create, again if the request was lost on the way. A lost request that the controller
    did carry out shows as the topic being there, or as the retry finding it exists (the caller
    checked it was absent, and run topics carry the run id)."""
    lost_before = False
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        future = admin.create_topics([topic], operation_timeout=timeout_s)[topic.topic]
        try:
            future.result(timeout_s)
            return
        except KafkaException as exc:
            code = exc.args[0].code()
            if lost_before and code == KafkaError.TOPIC_ALREADY_EXISTS:
                return
            lost = code in _IN_FLIGHT_LOST
            lost_before = lost_before or lost
            if lost and _exists(admin, topic, timeout_s):
                return
            if not lost or attempt == CREATE_ATTEMPTS:
                raise TopicError(f"cannot create topic {topic.topic} ({topic.num_partitions} "
                                 f"partitions, replication {topic.replication_factor}): "
                                 f"{exc}") from None
            time.sleep(0.5 * attempt)


def _exists(admin: AdminClient, topic: NewTopic, timeout_s: float) -> bool:
    found = admin.list_topics(timeout=timeout_s).topics.get(topic.topic)
    return found is not None and len(found.partitions) == topic.num_partitions


def existing_topic(admin: AdminClient, name: str, timeout_s: float = 30.0) -> dict[str, object]:
    """A topic to replay read-only, as its identity: name, partitions, topic id and cluster id
    (a topic deleted and re-created under the same name is another topic). Only described."""
    try:
        described = admin.describe_topics(TopicCollection([name]))[name].result(timeout_s)
        cluster = admin.describe_cluster().result(timeout_s)
    except KafkaException as exc:
        error = exc.args[0]
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise TopicError(f"topic.name: {name}: no such topic on this cluster (a replay "
                             "reads an existing topic; it never creates one)") from None
        raise TopicError(f"cannot describe topic {name}: {error.str()}") from None
    return {"name": name, "partitions": len(described.partitions),
            "topic_id": str(described.topic_id), "cluster_id": cluster.cluster_id}


def topic_configs(admin: AdminClient, name: str, timeout_s: float = 30.0) -> dict[str, str]:
    """The topic's effective non-default configs, for the manifest."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([resource])[resource].result(timeout_s)
    return {k: v.value for k, v in entries.items() if not v.is_default and v.value is not None}


def _wait_gone(admin: AdminClient, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while name in admin.list_topics(timeout=timeout_s).topics:
        if time.monotonic() > deadline:
            raise TopicError(f"topic {name} still listed {timeout_s:.0f} s after deleting it")
        time.sleep(0.2)
