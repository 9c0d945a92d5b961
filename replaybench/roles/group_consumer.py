"""GroupConsumer: an application's consumer as a migration moves it: a member of a consumer
group that commits what it has processed, and can leave one cluster and join another with the
same group id, starting where that cluster's committed offsets for the group say (the offsets
MirrorMaker 2 synced there, or the reset policy when there are none).

Every record it is handed is kept as a ledger row (key id, version, partition, offset, leg,
receive time): a migration is judged on those rows, not on any counter of the mirror's.
"""

from __future__ import annotations

import numpy as np
from confluent_kafka import Consumer, KafkaError, KafkaException

from replaybench.format import core
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import IntervalHistograms, Snapshot
from replaybench.roles.client_stats import ClientStats
from replaybench.roles.tail_consumer import tail

GROUP_CONSUMER_DEFAULTS = {"enable.auto.commit": False, "fetch.wait.max.ms": 10,
                           "fetch.min.bytes": 1, "enable.partition.eof": False,
                           "session.timeout.ms": 10_000, "heartbeat.interval.ms": 1_000}
#: commit errors that mean "not now": the group's coordinator is unreachable or moving, or
#: it forgot the member (a restarted coordinator): the consumer rejoins at its next poll
COMMIT_LATER = frozenset({KafkaError._WAIT_COORD, KafkaError._TRANSPORT, KafkaError._TIMED_OUT,
                          KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
                          KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.REQUEST_TIMED_OUT,
                          KafkaError._ASSIGNMENT_LOST, KafkaError.UNKNOWN_MEMBER_ID,
                          KafkaError.ILLEGAL_GENERATION, KafkaError.REBALANCE_IN_PROGRESS})
#: topic: its index in the leg's subscription
LEDGER_COLUMNS = ("key_id", "version", "partition", "offset", "leg", "topic", "received_ns")


class GroupConsumer:
    METRICS = ("e2e",)

    def __init__(self, client_config: dict, topics: list[str], group: str, n_keys: int,
                 n_partitions: int, reset: str = "earliest", name: str = "consumer-0") -> None:
        """reset: where it starts in a partition the group has no committed offset for (a
        fresh topic is read from its start: earliest)."""
        self.name, self.group, self.reset = name, group, reset
        self.n_keys, self.n_partitions = n_keys, n_partitions
        self.clock = Clock()
        self.hists = IntervalHistograms(self.METRICS)
        self.columns = core.Columns(1 << 14)
        self.leg = 0
        self._rows: list[np.ndarray] = []
        self._counts = {"records": 0, "bytes": 0, "commit_failures": 0}
        self.consumer: Consumer | None = None
        self.topics: list[str] = []
        self._join(client_config, topics)

    def _join(self, client_config: dict, topics: list[str]) -> None:
        self.stats = ClientStats()
        self.state = core.StateTable(self.n_keys, self.n_partitions)
        self.consumer = Consumer({**GROUP_CONSUMER_DEFAULTS, "group.id": self.group,
                                  "auto.offset.reset": self.reset, **client_config,
                                  **self.stats.config, "on_commit": self._committed})
        self.topics = list(topics)
        self.consumer.subscribe(self.topics, on_revoke=self._on_revoke, on_lost=self._on_lost)

    def tick(self, deadline_ns: int) -> Snapshot:
        """Read until deadline_ns, then commit what was read (the application processed it)."""
        if self.consumer is None:
            return self.snapshot()
        tail(self.consumer, self.clock, deadline_ns, self._take)
        # not waited for: a coordinator that does not answer (a broker down) must not hold
        # the tick; its answer comes to _committed in a later poll
        self._commit(wait=False)
        return self.snapshot()

    def leave(self) -> Snapshot:
        """Commit and leave the group (the cluster keeps its committed offsets)."""
        if self.consumer is not None:
            self._commit()
            self.consumer.close()
            self.consumer = None
        return self.snapshot()

    def join(self, client_config: dict, topics: list[str], reset: str | None = None) -> None:
        """Join the group on another cluster (after leave()): a new leg of the ledger. reset:
        where it starts there without a committed offset (None: as before)."""
        self.leg += 1
        self.reset = reset or self.reset
        self._join(client_config, topics)

    def ledger(self) -> np.ndarray:
        """Every record handed to it, one row each (LEDGER_COLUMNS), in arrival order."""
        if not self._rows:
            return np.zeros((0, len(LEDGER_COLUMNS)), np.int64)
        return np.concatenate(self._rows)

    def snapshot(self, done: bool = False) -> Snapshot:
        counts, self._counts = self._counts, dict.fromkeys(self._counts, 0)
        gauges = self.stats.gauges() if self.consumer is not None else {}
        return Snapshot("consumer", self.name, self.clock(), counts, gauges, self.hists.take(),
                        done)

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    def _take(self, messages: list) -> None:
        for lo in range(0, len(messages), self.columns.capacity):
            batch = messages[lo:lo + self.columns.capacity]
            now, n, cols = self.clock(), len(batch), self.columns
            before = self.state.counters.copy()
            self.state.fold(batch, now, self.hists["e2e"], cols)
            delta = dict(zip(FOLD_COUNTERS, (self.state.counters - before).tolist()))
            self._counts["records"] += n
            self._counts["bytes"] += delta["bytes"]
            topic = np.fromiter((self.topics.index(m.topic()) for m in batch), np.int64, n)
            self._rows.append(np.stack([cols.key_id[:n], cols.key_version[:n],
                                        cols.partition[:n].astype(np.int64), cols.offset[:n],
                                        np.full(n, self.leg, np.int64), topic,
                                        np.full(n, now, np.int64)], axis=1))

    def _on_lost(self, consumer: Consumer, partitions: list) -> None:
        """The group went on without this member (its coordinator restarted, its session
        expired): the partitions are no longer its own to commit, so nothing is committed
        (without this, librdkafka calls on_revoke, whose commit cannot succeed). What was
        read since the last commit is read again by the next owner, and the ledger counts
        it."""

    def _on_revoke(self, consumer: Consumer, partitions: list) -> None:
        """Before a rebalance takes partitions away, commit what was read from them (else
        their next owner reads it again: not the migration's doing)."""
        self._commit()

    def _commit(self, wait: bool = True) -> None:
        """Commit what was read. A commit the cluster cannot take now (its coordinator down
        or moving: a broker killed) is counted and left to the next tick, as an application
        would: what was read meanwhile is read again if the group moves before then, and
        the ledger shows it."""
        try:
            self.consumer.commit(asynchronous=not wait)
        except KafkaException as exc:
            self._failed(exc.args[0])

    def _committed(self, error: KafkaError | None, partitions: list) -> None:
        """librdkafka's answer to a commit, in a poll."""
        if error is not None:
            self._failed(error)

    def _failed(self, error: KafkaError) -> None:
        if error.code() == KafkaError._NO_OFFSET:   # nothing read since the last commit
            return
        if not (error.retriable() or error.code() in COMMIT_LATER):
            raise KafkaException(error)
        self._counts["commit_failures"] += 1
