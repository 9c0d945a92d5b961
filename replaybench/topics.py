"""Creating the run's topics, refusing to write into a topic laid out differently."""

from __future__ import annotations

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
    future = admin.create_topics([NewTopic(name, partitions, replication, config=configs)],
                                 operation_timeout=timeout_s)[name]
    try:
        future.result(timeout_s)
    except Exception as exc:  # KafkaException carries the broker's reason
        raise TopicError(f"cannot create topic {name} ({partitions} partitions, replication "
                         f"{replication}): {exc}") from None


def topic_configs(admin: AdminClient, name: str, timeout_s: float = 30.0) -> dict[str, str]:
    """The topic's effective non-default configs, for the manifest."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([resource])[resource].result(timeout_s)
    return {k: v.value for k, v in entries.items() if not v.is_default and v.value is not None}


def _wait_gone(admin: AdminClient, name: str, timeout_s: float) -> None:
    import time
    deadline = time.monotonic() + timeout_s
    while name in admin.list_topics(timeout=timeout_s).topics:
        if time.monotonic() > deadline:
            raise TopicError(f"topic {name} still listed {timeout_s:.0f} s after deleting it")
        time.sleep(0.2)
