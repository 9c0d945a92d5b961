"""Cluster health seen through the AdminClient: which brokers are up, which partitions lag."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka.admin import AdminClient

from replaybench.errors import ClusterError

_NS_PER_S = 1_000_000_000


def admin(bootstrap: str, extra: dict[str, str] | None = None) -> AdminClient:
    # log_level 2 (critical): connection refusals are expected while brokers start.
    return AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 2000,
                        "log_level": 2,
                        **(extra or {})})


def admin_for(config: dict[str, str]) -> AdminClient:
    """An Admin client with a role's whole client config (its bootstrap, its login)."""
    return admin(config["bootstrap.servers"],
                 {k: v for k, v in config.items() if k != "bootstrap.servers"})


def check_reachable(config: dict[str, str], timeout_s: float) -> None:
    """One line naming the address and the client's reason when the cluster does not answer
    metadata within the timeout (a wrong address, a refused login, a bad property)."""
    bootstrap = config.get("bootstrap.servers", "")
    try:
        admin(bootstrap, {k: v for k, v in config.items() if k != "bootstrap.servers"}) \
            .list_topics(timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - KafkaException or a bad property name
        reason = str(exc.args[0] if exc.args else exc)
        raise ClusterError(f"cannot reach the cluster at {bootstrap} within "
                           f"{timeout_s:.0f} s ({reason})") from None


def live_broker_ids(client: AdminClient, timeout_s: float = 2.0) -> set[int]:
    """Ids of the brokers the cluster metadata lists (registered and unfenced)."""
    try:
        return set(client.list_topics(timeout=timeout_s).brokers)
    except Exception:  # noqa: BLE001 - any client error means "not reachable yet"
        return set()


def answers_as(bootstrap: str, node_id: int, timeout_s: float = 1.0,
               extra: dict[str, str] | None = None) -> bool:
    """True once the broker at this one address serves metadata that lists itself.

    A KRaft broker serves client requests only after it has registered and been unfenced, so
    this tells a running new process apart from a stale registration of a dead one.
    """
    return node_id in live_broker_ids(admin(bootstrap, extra), timeout_s)


def under_replicated(client: AdminClient, topics: list[str] | None = None,
                     timeout_s: float = 5.0) -> list[tuple[str, int]]:
    """(topic, partition) pairs whose in-sync replica set is smaller than their replica set."""
    md = client.list_topics(timeout=timeout_s)
    return sorted(
        (name, pid)
        for name, topic in md.topics.items()
        if topics is None or name in topics
        for pid, part in topic.partitions.items()
        if len(part.isrs) < len(part.replicas)
    )


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               fail_fast: Callable[[], None] | None = None, interval_s: float = 0.2) -> None:
    """Poll `condition` until true; `fail_fast` runs each round and may raise (e.g. broker died)."""
    deadline = time.monotonic_ns() + int(timeout_s * _NS_PER_S)
    while True:
        if fail_fast is not None:
            fail_fast()
        if condition():
            return
        if time.monotonic_ns() >= deadline:
            raise ClusterError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)
