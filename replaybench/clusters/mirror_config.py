"""MirrorMaker 2's configuration for one flow (source -> target), written from the workload's
mirror settings: every default that decides a cutover's outcome is set here, never left to
MirrorMaker, and recorded in the manifest as written.

MirrorMaker's own defaults, for the record: checkpoints every 60 s, group offsets not synced
(and, when on, every 60 s and only while the group has no member on the target), new groups
and topics found every 10 min, an offset sync at most every 100 records (`offset.lag.max`), and
a mirror restarted after a crash waits up to 5 min before it runs the tasks it had
(`scheduled.rebalance.max.delay.ms`).
"""

from __future__ import annotations

from dataclasses import dataclass

IDENTITY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
PREFIXED = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
# Every internal topic MirrorMaker creates; a 1-broker embedded cluster cannot hold 3 copies.
_REPLICATED = ("replication.factor", "checkpoints.topic.replication.factor",
               "heartbeats.topic.replication.factor", "offset-syncs.topic.replication.factor",
               "offset.storage.replication.factor", "status.storage.replication.factor",
               "config.storage.replication.factor")


@dataclass(frozen=True)
class MirrorSettings:
    checkpoint_interval_s: float = 5.0   #: emit.checkpoints.interval.seconds
    checkpoints: bool = True             #: emit.checkpoints.enabled
    sync_group_offsets: bool = True      #: sync.group.offsets.enabled
    sync_interval_s: float = 5.0         #: sync.group.offsets.interval.seconds
    refresh_s: float = 5.0               #: refresh.groups/topics.interval.seconds
    offset_lag_max: int = 100            #: offset.lag.max (records between offset syncs)
    policy: str = "identity"             #: identity: same topic names; prefixed: "<source>.t"
    tasks: int = 1                       #: tasks.max
    start_at: str = "earliest"           #: where a partition with no stored position starts
    rebalance_delay_s: float = 300.0     #: scheduled.rebalance.max.delay.ms, in s
    #: the source consumer's isolation.level: read_uncommitted (MirrorMaker's) copies the
    #: records of aborted transactions as committed ones
    read_committed: bool = False


@dataclass(frozen=True)
class Flow:
    """One direction: cluster aliases, their Java client settings, what is mirrored."""
    source: str
    target: str
    source_client: dict[str, str]
    target_client: dict[str, str]
    topics: tuple[str, ...]
    groups: tuple[str, ...]
    replication: int = 1    #: of MirrorMaker's internal topics and the mirrored topics


def properties(flow: Flow, settings: MirrorSettings) -> dict[str, str]:
    """The mm2.properties of a dedicated MirrorMaker running this one flow."""
    props = {"clusters": f"{flow.source}, {flow.target}",
             **{f"{flow.source}.{k}": v for k, v in flow.source_client.items()},
             **{f"{flow.target}.{k}": v for k, v in flow.target_client.items()},
             f"{flow.source}->{flow.target}.enabled": "true",
             f"{flow.target}->{flow.source}.enabled": "false",
             f"{flow.source}->{flow.target}.topics": ", ".join(flow.topics),
             f"{flow.source}->{flow.target}.groups": ", ".join(flow.groups),
             "replication.policy.class": IDENTITY if settings.policy == "identity" else PREFIXED,
             "emit.checkpoints.enabled": _bool(settings.checkpoints),
             "emit.checkpoints.interval.seconds": _seconds(settings.checkpoint_interval_s),
             "sync.group.offsets.enabled": _bool(settings.sync_group_offsets),
             "sync.group.offsets.interval.seconds": _seconds(settings.sync_interval_s),
             "refresh.groups.interval.seconds": _seconds(settings.refresh_s),
             "refresh.topics.interval.seconds": _seconds(settings.refresh_s),
             "offset.lag.max": str(settings.offset_lag_max),
             "tasks.max": str(settings.tasks),
             # a restarted mirror waits this long for its lost tasks' old owner to come back
             # before it runs them itself
             "scheduled.rebalance.max.delay.ms": str(round(settings.rebalance_delay_s * 1000)),
             "sync.topic.acls.enabled": "false",
             "sync.topic.configs.enabled": "true",
             # every plugin it needs is on the classpath with its manifest: no scan, neither
             # by MirrorMaker itself (~3 s) nor by the herder's worker, which takes its
             # settings from its target cluster's: without that one it scanned every jar by
             # reflection, 9.4 s here, and a smoke migration's catch-up took 23.9 s, not 9.7
             "plugin.discovery": "service_load",
             f"{flow.target}.plugin.discovery": "service_load",
             f"{flow.source}.consumer.auto.offset.reset": settings.start_at,
             f"{flow.source}.consumer.isolation.level":
                 "read_committed" if settings.read_committed else "read_uncommitted",
             **{k: str(flow.replication) for k in _REPLICATED}}
    return props


def render(props: dict[str, str]) -> str:
    """As a .properties file (values escaped as java.util.Properties reads them)."""
    return "".join(f"{k}={_escaped(v)}\n" for k, v in props.items())


def _escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _seconds(value: float) -> str:
    return str(max(1, round(value)))
