"""Least privilege for a run on a secured (sasl_ssl) cluster: each role logs in as its own
principal and is granted only what its job needs, and an authorization failure is told as the
principal, operation and resource that were missing.

| principal | may |
|---|---|
| seeder   | write and describe the changelog |
| producer | write and describe the live topic |
| consumer | read and describe the live topic, use groups replaybench-tail-* |
| reader   | read and describe the changelog, use groups replaybench-restore-* |
| streams  | (Kafka Streams runs) read its input, write its output, all on its own internal topics |
|          | (<application id>-<store>-*), use its group, its transactional ids |
| monitor  | (--monitor) describe every topic and group: what a lag exporter reads |
| mirror   | (a migration) read what it mirrors from a cluster, write the copies it makes there, |
|          | its own topics and groups (migration_grants) |

With the Kafka Streams engine the consumer reads the application's output and the readers
its store's changelog instead. The harness itself (topic creation, offsets, verification) is
the admin principal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from replaybench.clusters import health
from replaybench.clusters.security_material import ROLE_USERS, SecurityMaterial
from replaybench.errors import UsageError

# librdkafka's error names, and the Java client's exceptions (a Kafka Streams instance's)
_DENIED = re.compile(r"(TOPIC|GROUP|CLUSTER|TRANSACTIONAL_ID)_AUTHORIZATION_FAILED|"
                     r"(Topic|Group|Cluster|TransactionalId)AuthorizationException")
_JAVA_KIND = {"Topic": "topic", "Group": "group", "Cluster": "cluster",
              "TransactionalId": "transactional_id"}
OPERATIONS = ("READ", "WRITE", "DESCRIBE", "ALL")   #: what --drop-acl may name
RESOURCES = ("topic", "group", "transactional_id")


@dataclass(frozen=True)
class StreamsNames:
    """A Kafka Streams run's names: its application id (group, transactional-id prefix), its
    output topic, and the prefix of its internal topics (its store's changelog)."""
    application_id: str
    output: str
    internal_prefix: str


@dataclass(frozen=True)
class Grant:
    role: str            #: seeder, producer, consumer, reader, streams (its principal's name)
    operation: str       #: READ, WRITE, DESCRIBE or ALL
    resource: str        #: topic, group or transactional_id
    name: str
    prefixed: bool = False

    @property
    def principal(self) -> str:
        return f"User:{self.role}"

    def describe(self) -> str:
        return f"{self.operation} {self.resource} {self.name}{'*' if self.prefixed else ''}"

    def binding(self) -> AclBinding:
        return AclBinding(ResourceType[self.resource.upper()], self.name,
                          ResourcePatternType.PREFIXED if self.prefixed else
                          ResourcePatternType.LITERAL, self.principal, "*",
                          AclOperation[self.operation], AclPermissionType.ALLOW)


def least_privilege(changelog: str, live: str, seeded: bool = True,
                    streams: StreamsNames | None = None, monitored: bool = False) -> list[Grant]:
    grants = [Grant("seeder", op, "topic", changelog) for op in ("WRITE", "DESCRIBE") if seeded]
    # the lag exporter lists every group, and reads their offsets and their topics' ends
    grants += [Grant("monitor", "DESCRIBE", kind, "*") for kind in ("topic", "group")
               if monitored]
    grants += [Grant("producer", op, "topic", live) for op in ("WRITE", "DESCRIBE")]
    if streams:
        return grants + _streams_grants(changelog, streams)
    grants += [Grant("consumer", op, "topic", live) for op in ("READ", "DESCRIBE")]
    grants.append(Grant("consumer", "READ", "group", "replaybench-tail-", prefixed=True))
    grants += [Grant("reader", op, "topic", changelog) for op in ("READ", "DESCRIBE")]
    grants.append(Grant("reader", "READ", "group", "replaybench-restore-", prefixed=True))
    return grants


def _streams_grants(source: str, names: StreamsNames) -> list[Grant]:
    """The application reads `source` and writes its output; the consumer reads the output;
    the readers (side by side) read the store's changelog."""
    store_changelog = f"{names.internal_prefix}changelog"
    return [*(Grant("streams", op, "topic", source) for op in ("READ", "DESCRIBE")),
            *(Grant("streams", op, "topic", names.output) for op in ("WRITE", "DESCRIBE")),
            Grant("streams", "ALL", "topic", names.internal_prefix, prefixed=True),
            Grant("streams", "READ", "group", names.application_id),
            *(Grant("streams", op, "transactional_id", names.application_id, prefixed=True)
              for op in ("WRITE", "DESCRIBE")),
            *(Grant("consumer", op, "topic", names.output) for op in ("READ", "DESCRIBE")),
            Grant("consumer", "READ", "group", f"replaybench-{names.output}"),
            *(Grant("reader", op, "topic", store_changelog) for op in ("READ", "DESCRIBE")),
            Grant("reader", "READ", "group", "replaybench-restore-", prefixed=True)]


@dataclass(frozen=True)
class MigrationNames:
    """What a migration's roles touch on one of its clusters."""
    topic: str                    #: the applications' topic (named alike on both clusters)
    read: tuple[str, ...]         #: what the group reads there (the topic, a mirrored copy)
    group: str
    mirrored_in: tuple[str, ...]  #: the copies a mirror writes there
    mirrored_out: tuple[str, ...]  #: the topics a mirror reads there
    groups_out: tuple[str, ...]    #: the groups whose offsets a mirror reads there
    writer: str = ""   #: the alias of the cluster whose mirror writes here ("": none does)
    groups_in: tuple[str, ...] = ()   #: the groups whose offsets that mirror syncs here
    #: a Kafka Streams application moved (reading `topic`) instead of a consumer group
    streams: StreamsNames | None = None


def migration_grants(names: MigrationNames, monitored: bool = False) -> list[Grant]:
    """One cluster of a migration: the producers write the applications' topic, the consumers
    read it (and the copy) in their group, or a Kafka Streams application reads it as it does
    on one cluster, and the mirror reads what it mirrors from here and
    writes the copies it makes here, with MirrorMaker's own topics and groups (prefix mm2-,
    and the heartbeats and checkpoints it emits)."""
    grants = [Grant("producer", op, "topic", names.topic) for op in ("WRITE", "DESCRIBE")]
    if names.streams:   # the application, under its own principal, on either cluster
        grants += [g for g in _streams_grants(names.topic, names.streams) if g.role == "streams"]
    else:
        grants += [Grant("consumer", op, "topic", t) for t in names.read
                   for op in ("READ", "DESCRIBE")]
        grants.append(Grant("consumer", "READ", "group", names.group))
    grants += [Grant("monitor", "DESCRIBE", kind, "*") for kind in ("topic", "group")
               if monitored]
    # once each: a topic the mirror both writes and reads back (the identity policy's copy,
    # with a rollback) is one grant of each operation
    return list(dict.fromkeys(grants + _mirror_grants(names)))


def _mirror_grants(names: MigrationNames) -> list[Grant]:
    grants = [Grant("mirror", op, "topic", t) for t in names.mirrored_out
              for op in ("READ", "DESCRIBE", "DESCRIBE_CONFIGS")]
    grants += [Grant("mirror", "DESCRIBE", "group", g) for g in names.groups_out]
    grants += [Grant("mirror", op, "topic", t) for t in names.mirrored_in
               for op in ("CREATE", "WRITE", "READ", "DESCRIBE", "ALTER_CONFIGS")]
    # its own topics: its Connect worker's (mm2-offsets.<alias>.internal, -configs, -status)
    # where it writes, the offset syncs (mm2-offset-syncs.<alias>.internal) where it reads
    grants.append(Grant("mirror", "ALL", "topic", "mm2-", prefixed=True))
    if names.writer:   # and where it writes: its heartbeats (and the other side's, copied),
        # checkpoints, worker group, and the offsets it syncs into the groups it translates
        grants += [Grant("mirror", "ALL", "topic", name) for name in (
            "heartbeats", f"{names.writer}.heartbeats", f"{names.writer}.checkpoints.internal")]
        grants.append(Grant("mirror", "ALL", "group", f"{names.writer}-mm2"))
        grants += [Grant("mirror", "READ", "group", g) for g in names.groups_in]
    return grants


def for_migration(material: SecurityMaterial | None, admin_config: dict[str, str],
                  names: MigrationNames, monitored: bool = False,
                  drops: tuple[str, ...] = ()) -> RunGrants:
    """A migration's cluster on sasl_ssl: each role's least privilege there (less what
    `drops` names), and its login."""
    if material is None or material.mode != "sasl_ssl":
        return RunGrants({}, [], [])
    kept, dropped = _left_out(migration_grants(names, monitored), drops)
    apply(health.admin_for(admin_config), kept)
    return RunGrants(role_configs(material), kept, dropped)


def _left_out(grants: list[Grant], drops: tuple[str, ...]) -> tuple[list[Grant], list[Grant]]:
    """(the grants to make, the ones --drop-acl leaves out)."""
    leave_out = {parse_drop(d) for d in drops}
    dropped = [g for g in grants if (g.role, g.operation, g.resource) in leave_out
               or (g.role, g.operation, None) in leave_out]
    return [g for g in grants if g not in dropped], dropped


def parse_drop(text: str) -> tuple[str, str, str | None]:
    """`reader:READ[:topic|group|transactional_id]` -> (reader, READ, topic): grants to leave
    out, to see what their absence does (no resource: the operation on every resource)."""
    role, _, rest = text.partition(":")
    operation, _, resource = rest.partition(":")
    operation, resource = operation.upper(), resource.lower()
    if role not in ROLE_USERS or operation not in OPERATIONS or \
            resource not in ("", *RESOURCES):
        raise UsageError(f"--drop-acl {text!r}: expected ROLE:OPERATION[:RESOURCE] with ROLE one "
                         f"of {', '.join(ROLE_USERS)}, OPERATION {', '.join(OPERATIONS)}, "
                         f"RESOURCE {', '.join(RESOURCES)}")
    return role, operation, resource or None


def check_drops(drops: tuple[str, ...], mode: str | None) -> None:
    """Refused before anything starts: a --drop-acl without sasl_ssl, or one misspelt."""
    if drops and mode != "sasl_ssl":
        raise UsageError("--drop-acl needs --security sasl_ssl (only there do roles have "
                         "principals and ACLs)")
    for text in drops:
        parse_drop(text)


def apply(admin: AdminClient, grants: list[Grant], timeout_s: float = 30.0) -> None:
    for future in admin.create_acls([g.binding() for g in grants],
                                    request_timeout=timeout_s).values():
        future.result(timeout_s)


def login(material: SecurityMaterial | None, role: str) -> dict[str, str]:
    """A role's own login on a sasl_ssl cluster; nothing elsewhere (every client there is
    alike)."""
    if material is None or material.mode != "sasl_ssl":
        return {}
    return material.client_config(role)


def role_configs(material: SecurityMaterial) -> dict[str, dict[str, str]]:
    """Each role's login (its own principal); the harness keeps the admin's."""
    return {role: material.client_config(role) for role in ROLE_USERS}


def explain(reason: str, grants: list[Grant], dropped: list[Grant]) -> str:
    """An authorization failure in `reason` (`actor: error`) as the principal, operation and
    resource it lacked; other reasons unchanged."""
    denied = _DENIED.search(reason)
    actor = reason.split(":", 1)[0]
    role = actor.split("-", 1)[0]
    if not denied or role not in ROLE_USERS:
        return reason
    kind = denied.group(1).lower() if denied.group(1) else _JAVA_KIND[denied.group(2)]
    wanted = [g for g in (*dropped, *grants) if g.role == role and g.resource == kind]
    what = wanted[0].describe() if wanted else f"access to a {kind}"
    cause = " (left out by --drop-acl)" if wanted and wanted[0] in dropped else ""
    return f"{actor}: principal User:{role} may not {what}{cause}: {denied.group(0)}"


@dataclass(frozen=True)
class RunGrants:
    """What a run on this cluster was granted, and each role's login."""
    role_configs: dict[str, dict[str, str]]
    granted: list[Grant]
    dropped: list[Grant]

    def explain(self, reason: str) -> str:
        return explain(reason, self.granted, self.dropped) if self.granted or self.dropped \
            else reason

    def to_manifest(self) -> dict:
        return {"granted": [f"{g.principal} {g.describe()}" for g in self.granted],
                "dropped": [f"{g.principal} {g.describe()}" for g in self.dropped]}


def for_run(material: SecurityMaterial | None, admin_config: dict[str, str], changelog: str,
            live: str, seeded: bool, drops: tuple[str, ...] = (),
            streams: StreamsNames | None = None, monitored: bool = False) -> RunGrants:
    """On a sasl_ssl cluster: grant each role its least privilege (less what `drops` names)
    and log it in as its own principal; monitored: the lag exporter too (--monitor).
    Elsewhere nothing changes."""
    if material is None or material.mode != "sasl_ssl":
        return RunGrants({}, [], [])
    kept, dropped = _left_out(least_privilege(changelog, live, seeded, streams, monitored),
                              drops)
    apply(health.admin_for(admin_config), kept)
    return RunGrants(role_configs(material), kept, dropped)
