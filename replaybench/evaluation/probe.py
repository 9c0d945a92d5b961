"""What every compatibility check works with: the cluster's client settings, topics and groups of
its own (removed afterwards), clients made from them, and the outcome it reports.

A check returns an Outcome; it raises Unsupported when the broker says it does not implement
what is asked (an UNSUPPORTED_VERSION answer, a refused feature), and anything else it raises
is a failure with the error as its evidence (compat.run_check decides).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from replaybench.kafka import topics

PASS, FAIL, UNSUPPORTED = "pass", "fail", "unsupported"

# Broker answers that mean "not implemented here", not "implemented wrongly".
_REFUSALS = {KafkaError.UNSUPPORTED_VERSION, KafkaError._UNSUPPORTED_FEATURE,
             KafkaError.UNSUPPORTED_FOR_MESSAGE_FORMAT, KafkaError.UNSUPPORTED_COMPRESSION_TYPE,
             KafkaError._NOT_IMPLEMENTED, KafkaError.INVALID_REQUEST}


@dataclass(frozen=True)
class Outcome:
    """One check's result with the evidence behind it, as a compat.parquet row."""
    status: str           #: pass, fail or unsupported
    scope: str            #: what was exercised (e.g. "across a broker restart")
    sent: str             #: what the check did
    received: str         #: what came back
    broker_error: str = ""


class Unsupported(Exception):
    """The broker refused the feature (its error is the message)."""


def refusal(exc: BaseException) -> str | None:
    """The broker's refusal in `exc`, if it is one: its error name and text."""
    err = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    if isinstance(err, KafkaError) and err.code() in _REFUSALS:
        return f"{err.name()}: {err.str()}"
    return None


# Connection refusals while a check restarts a broker are expected; errors reach the checks
# through delivery reports and exceptions, so the clients' own log stays at critical.
_QUIET = {"log_level": 2}


def step(name: str, action: Callable[[], Any]) -> Any:
    """One named step of a check: its error, or the broker's refusal, names the step."""
    try:
        return action()
    except Unsupported:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the step's name
        why = refusal(exc)
        if why:
            raise Unsupported(f"{name}: {why}") from None
        text = str(exc.args[0] if exc.args else exc).splitlines()[0] if str(exc) else \
            type(exc).__name__
        raise StepFailed(f"{name}: {text}") from None


class StepFailed(Exception):
    """A named step of a check went wrong (not a refusal)."""


class Probe:
    """Clients for one cluster, and the topics and groups the checks made (named
    rb-compat-<id>-..., deleted by cleanup(), never anything else)."""

    def __init__(self, config: dict[str, str], compat_id: str,
                 restart: Callable[[], None] | None = None, replication: int | None = None) -> None:
        self.config = dict(config)
        self.prefix = f"rb-{compat_id}"
        self.restart = restart        #: restarts a broker (and waits for it); None: it cannot
        self.replication = replication or 1
        self._admin = AdminClient({**self.config, **_QUIET})
        self.topics: list[str] = []
        self.groups: list[str] = []

    @property
    def admin(self) -> AdminClient:
        return self._admin

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def topic(self, suffix: str, partitions: int = 1, configs: dict[str, str] | None = None) -> str:
        name = self.name(suffix)
        self.topics.append(name)   # before creating: a half-made topic is still removed
        topics.ensure_topic(self._admin, name, partitions, self.replication, configs or {})
        return name

    def group(self, suffix: str) -> str:
        self.groups.append(self.name(suffix))
        return self.groups[-1]

    def producer(self, **extra: Any) -> Producer:
        return Producer({**self.config, "acks": "all", "linger.ms": 5, **_QUIET, **extra})

    def consumer(self, group: str | None = None, **extra: Any) -> Consumer:
        return Consumer({**self.config, "group.id": group or self.name("reader"),
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": True, **_QUIET, **extra})

    def read_all(self, topic: str, partitions: int, isolation: str = "read_committed",
                 timeout_s: float = 30.0) -> list[tuple[int, int, bytes | None, bytes | None]]:
        """Every record of the topic from its log start: (partition, offset, key, value)."""
        consumer = self.consumer(**{"isolation.level": isolation})
        consumer.assign([TopicPartition(topic, p, -2) for p in range(partitions)])  # -2: beginning
        rows, at_end, deadline = [], set(), time.monotonic() + timeout_s
        try:
            while len(at_end) < partitions:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topic}: partitions {sorted(set(range(partitions)) - at_end)} "
                                       f"not read to their end within {timeout_s:.0f} s")
                for msg in consumer.consume(1000, 0.5):
                    err = msg.error()
                    if err is None:
                        rows.append((msg.partition(), msg.offset(), msg.key(), msg.value()))
                    elif err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                    else:
                        raise KafkaException(err)
        finally:
            consumer.close()
        return rows

    def produce(self, producer: Producer, topic: str, records: list[tuple[bytes | None, bytes | None]],
                partition: int = -1, timeout_s: float = 30.0, **extra: Any) -> None:
        """Send and wait for every acknowledgement; a delivery error is raised."""
        errors: list[KafkaError] = []
        for key, value in records:
            producer.produce(topic, value, key, partition=partition,
                             on_delivery=lambda err, _m: errors.append(err) if err else None, **extra)
            producer.poll(0)
        if producer.flush(timeout_s):
            raise TimeoutError(f"{topic}: records not acknowledged within {timeout_s:.0f} s")
        if errors:
            raise KafkaException(errors[0])

    def cleanup(self) -> None:
        """Delete what the checks made; best effort (a cluster that refuses says so elsewhere)."""
        try:
            if self.groups:
                for future in self._admin.delete_consumer_groups(self.groups, request_timeout=10).values():
                    _quiet(future)
            if self.topics:
                for future in self._admin.delete_topics(self.topics, operation_timeout=10).values():
                    _quiet(future)
        except KafkaException:
            pass


def _quiet(future) -> None:
    try:
        future.result(timeout=15)
    except Exception:   # noqa: BLE001 - a group never created, a topic already gone
        pass
