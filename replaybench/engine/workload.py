"""Workload files: YAML loaded into one frozen, validated, hashed spec.

Every mistake is one line naming the file, the field and the value; unknown keys get a
close-match suggestion. `--set a.b=v` overrides any field before validation.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_serializer, model_validator

from replaybench.engine.fault_spec import FaultSpec
from replaybench.engine.migration_workload import Migration, check_with_the_rest
from replaybench.errors import UsageError
from replaybench.strict_yaml import parse_yaml
from replaybench.validation import (
    NonEmptyText,
    Properties,
    Strict,
    between,
    count_or_auto,
    format_version,
    one_line,
)

SUPPORTED_VERSION = 1
# A workload's name goes into results directory names and topic names: letters, digits, '.',
# '_' and '-', not starting with a dot (so no '..', no slash, no control character).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


class WorkloadError(UsageError):
    """A workload file or override that cannot be used, named by file, field and value."""


class Topic(Strict):
    """The changelog a restore rebuilds."""
    name: str = ""                 #: empty: "rb-<run id>-changelog", fresh per run
    #: true: replay `name`, a topic replaybench did not write, read-only: nothing is seeded, it
    #: is never written, created or deleted, and its partitions are the cluster's
    existing: bool = False
    partitions: between(int, 1, 10_000) = 8
    replication: between(int, 1, 7) = 1
    configs: Properties = {}


class Seed(Strict):
    keys: between(int, 1) = 100_000
    records: between(int, 1) = 400_000
    value_bytes: between(int, 48, 10 << 20) = 100
    tombstone_ratio: between(float, 0.0, 0.9) = 0.02
    random_payload: bool = True


class Live(Strict):
    """Live traffic: open-loop producers at a fixed rate and tailing consumers."""
    producers: between(int, 0, 1_000) = 1
    rate_per_s: between(int, 1) = 2_000        #: per producer
    rate_steps: Properties = {}    #: seconds into the run -> rate
    value_bytes: between(int, 48, 10 << 20) = 100
    consumers: between(int, 0, 1_000) = 1
    topic: Literal["live", "changelog"] = "live"  #: "live": a topic of its own; "changelog": append to it
    partitions: between(int, 1, 10_000) = 4    #: of the live topic
    keys: between(int, 1) = 10_000             #: key space of the live topic
    producer_config: Properties = {}  #: librdkafka, passed through
    consumer_config: Properties = {}


class Storm(Strict):
    """Parallel restores: `groups` jobs, each with `readers` readers over all partitions."""
    #: per group; auto: two per core the harness is given, at most one per partition
    #: (engine/reader_count.py); 0: no restore, live traffic only
    readers: count_or_auto(10_000) = "auto"
    groups: between(int, 1, 100) = 1
    stagger_s: between(float, 0.0) = 0.0       #: between group starts
    follow: bool = False           #: moving target: read past the storm-start offsets
    caught_up_lag: between(int, 0) = 100       #: records; with follow, caught up below this lag
    consumer_config: Properties = {}  #: librdkafka, passed through
    #: the readers' consumer (roles/restore_batches.py): native where built, or confluent-kafka
    client: Literal["auto", "native", "confluent-kafka"] = "auto"
    #: who restores: replaybench's readers, or a Kafka Streams application (section streams)
    engine: Literal["readers", "kafka-streams"] = "readers"


class Streams(Strict):
    """The Kafka Streams engine (storm.engine: kafka-streams). The seed is the application's
    input; it aggregates it into a RocksDB store whose changelog Kafka Streams writes; at storm
    start `lose_state` instances crash and restart with an empty state directory and restore."""
    instances: between(int, 1, 64) = 3
    threads: between(int, 1, 64) = 1             #: num.stream.threads
    standby_replicas: between(int, 0, 8) = 0     #: num.standby.replicas
    processing_guarantee: Literal["at_least_once", "exactly_once_v2"] = "at_least_once"
    lose_state: between(int, 1, 64) = 1          #: instances that lose their state at storm start
    #: wipe: they crash (kill -9), lose their state directory and restart, and restore it;
    #: kill: they crash and stay down, and their tasks fail over to the others (standbys help)
    loss: Literal["wipe", "kill"] = "wipe"
    #: group.instance.id per instance: a restarted instance takes its own tasks back at once
    static_membership: bool = True
    #: after the Streams restore and recovery, restore the same changelog with replaybench's
    #: readers (storm.readers, read-only) under the same live input: side by side, whether
    #: the restore is bound by the broker or by the application
    compare_readers: bool = False
    #: StreamsConfig passed through verbatim, e.g. restore.consumer.max.poll.records; unknown
    #: keys fail the run's start (Kafka Streams 4.3 has no state updater switch: always on)
    config: Properties = {}


class Phases(Strict):
    warmup_s: between(float, 0.0) = 3.0        #: live traffic before baseline, not judged; at least this,
    warmup_max_s: between(float, 0.0) = 30.0   #: at most this: until live p99 is steady (see settle_*)
    baseline_s: between(float, 0.0) = 10.0
    storm_timeout_s: between(float, 1.0) = 300.0
    recovery_s: between(float, 0.0) = 10.0     #: at most; ends early once latency settled
    settle_ratio: between(float, 1.0) = 1.5    #: settled: live p99 of a tick <= ratio x baseline p99 ...
    settle_ticks: between(int, 1, 3600) = 3    #: ... for this many ticks in a row


class Placement(Strict):
    """Where the actors run on a Ray cluster (engine/node_placement.py; docs/running.md)."""
    #: spread: every role round-robin over all nodes; separate: live roles (seeder, producers,
    #: consumers) on the first node, restore engines (readers, Kafka Streams) on the others
    policy: Literal["spread", "separate"] = "spread"
    #: role -> a Ray node label `key=value`: that role only on nodes carrying it
    pin: dict[Literal["seeder", "producer", "consumer", "reader", "streams"], NonEmptyText] = {}

    @field_validator("pin")
    @classmethod
    def _labels(cls, value: dict) -> dict:
        for role, label in value.items():
            if label.count("=") != 1 or not all(label.split("=")):
                raise ValueError(f"{role}: {label!r} is not a node label key=value")
        return value


class ClusterShape(Strict):
    brokers: between(int, 1, 9) = 1            #: embedded cluster size this workload wants (--brokers wins)


class WorkloadSpec(Strict):
    version: format_version(SUPPORTED_VERSION) = Field(None, validate_default=True)
    name: NonEmptyText = Field(None, validate_default=True)
    description: str = ""
    topic: Topic = Topic()
    seed: Seed = Seed()
    live: Live = Live()
    storm: Storm = Storm()
    phases: Phases = Phases()
    cluster: ClusterShape = ClusterShape()
    streams: Streams = Streams()
    placement: Placement = Placement()
    faults: Annotated[tuple[FaultSpec, ...], Field(strict=False)] = ()  #: a YAML list
    #: a migration between two clusters (engine/migration_schedule.py) instead of a restore
    migration: Migration | None = None

    @model_serializer(mode="wrap")
    def _without_migration(self, handler) -> dict[str, Any]:
        """A workload without a migration dumps as before the section existed: its hash, and
        so whether stored runs compare, does not change."""
        data = handler(self)
        if self.migration is None:
            data.pop("migration", None)
        return data

    @field_validator("name")
    @classmethod
    def _safe(cls, value: str) -> str:
        if not _SAFE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not safe in a path or a topic name (letters, "
                             "digits, '.', '_', '-'; at most 100; no leading dot)")
        return value

    @model_validator(mode="after")
    def _fields_together(self) -> WorkloadSpec:
        live, seed = self.live, self.seed
        if live.topic == "live" and live.keys < live.producers:
            raise ValueError(f"live.keys: {live.keys} is fewer than live.producers "
                             f"({live.producers}); each producer owns a share of the keys")
        if live.topic == "changelog" and seed.keys < live.producers:
            raise ValueError(f"seed.keys: {seed.keys} is fewer than live.producers")
        if self.storm.follow and live.topic != "changelog":
            raise ValueError("storm.follow: true needs live.topic: changelog (nothing else "
                             "moves the target)")
        if self.topic.existing:
            _check_replay(self)
        if self.storm.engine == "kafka-streams":
            _check_streams(self)
        if self.migration is not None:
            check_with_the_rest(self)
        elif any(f.after_phase for f in self.faults):
            raise ValueError("faults: after_phase is for a migration's faults (a restore's "
                             "count from the storm's start)")
        for at, rate in live.rate_steps.items():
            if not (_number(at) >= 0 and _number(rate) >= 0):
                raise ValueError(f"live.rate_steps: {at}: {rate} is not 'seconds: records per "
                                 "second' (both numbers >= 0)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @property
    def hash(self) -> str:
        """The whole resolved spec, stable over key order and formatting."""
        return _digest(self.to_dict())

    @property
    def scenario_hash(self) -> str:
        """The question a run asks (data, topics, live traffic, phases), without the knobs one
        turns to answer it (TUNABLES). Runs compare only if these match."""
        spec = self.to_dict()
        for dotted in TUNABLES:
            section, _, leaf = dotted.partition(".")
            spec[section].pop(leaf) if leaf else spec.pop(section)
        spec.pop("description")
        return _digest(spec)

    def scenario_hash_with(self, topic_identity: dict | None) -> str:
        """The scenario hash, for a replay also of the replayed topic's identity."""
        if not topic_identity:
            return self.scenario_hash
        return _digest({"scenario": self.scenario_hash, "topic": topic_identity})


def _check_replay(spec: WorkloadSpec) -> None:
    """What a read-only replay of an existing topic cannot do."""
    if not spec.topic.name:
        raise ValueError("topic.existing: true needs topic.name (the topic to replay)")
    if spec.live.topic == "changelog":
        raise ValueError("live.topic: changelog would write to the existing topic; a replay "
                         "is read-only (use live.topic: live)")
    if spec.storm.follow:
        raise ValueError("storm.follow: true reads records replaybench wrote; an existing "
                         "topic is replayed to its end offsets at storm start")
    if spec.storm.client == "native":
        raise ValueError("storm.client: native decodes replaybench's own records; an existing "
                         "topic is read with confluent-kafka (auto)")


def _check_streams(spec: WorkloadSpec) -> None:
    """What the Kafka Streams engine needs of the rest of the workload."""
    if spec.topic.existing:
        raise ValueError("storm.engine: kafka-streams restores the application's own changelog; "
                         "topic.existing replays a topic with replaybench's readers")
    if spec.live.topic != "changelog":
        raise ValueError("storm.engine: kafka-streams needs live.topic: changelog (live "
                         "updates go to the application's input topic)")
    if spec.seed.tombstone_ratio:
        raise ValueError("seed.tombstone_ratio: the application counts updates; its input "
                         "has no tombstones (set 0)")
    if spec.streams.lose_state > spec.streams.instances:
        raise ValueError(f"streams.lose_state: {spec.streams.lose_state} is more than "
                         f"streams.instances ({spec.streams.instances})")
    if spec.streams.loss == "kill" and spec.streams.lose_state >= spec.streams.instances:
        raise ValueError(f"streams.loss: kill of {spec.streams.lose_state} of "
                         f"{spec.streams.instances} instances leaves none to fail over to")


# Restore parallelism, client settings and where actors run: what a comparison or a sweep
# varies (a whole section where no field is named).
TUNABLES = ("storm.readers", "storm.consumer_config", "storm.client", "live.producer_config",
            "live.consumer_config", "streams.config", "placement")


def _digest(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --scale: multipliers on sizes and durations; `default` is the file as written, and --set
# overrides apply after scaling.
SCALES = {
    "smoke": {"seed.keys": 0.1, "seed.records": 0.1, "phases.baseline_s": 0.3,
              "phases.recovery_s": 0.3, "live.keys": 0.1},
    "default": {},
    "large": {"seed.keys": 10, "seed.records": 10, "phases.baseline_s": 3,
              "phases.recovery_s": 3, "phases.storm_timeout_s": 4, "live.keys": 10},
}


SHIPPED_DIR = Path(__file__).resolve().parents[2] / "workloads"


def path_for(name_or_path: str) -> Path:
    """A workload file: a .yaml/.yml path as given, else the shipped workload of that name."""
    path = Path(name_or_path)
    return path if path.suffix in (".yaml", ".yml") else SHIPPED_DIR / f"{name_or_path}.yaml"


def load(path: Path, overrides: list[str] = (), scale: str = "default") -> WorkloadSpec:
    try:
        raw = parse_yaml(Path(path).read_text())
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such workload file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise WorkloadError(f"{path}:{where} not valid YAML" + (f" ({problem})" if problem else "")) from None
    if not isinstance(raw, dict):
        raise WorkloadError(f"{path}: a workload is a mapping of fields, got {type(raw).__name__}")
    spec = from_dict(raw, str(path))
    if scale not in SCALES:
        raise WorkloadError(f"--scale {scale!r}: expected one of {', '.join(SCALES)}")
    if not SCALES[scale] and not overrides:
        return spec
    scaled = apply_scale(spec.to_dict(), SCALES[scale])
    for item in overrides:
        apply_override(scaled, item, path)
    return from_dict({**scaled, "version": raw.get("version")}, str(path))


def apply_scale(raw: dict, factors: dict[str, float]) -> dict:
    """Multiply the named fields, keeping integers integers and at least 1."""
    for dotted, factor in factors.items():
        section, leaf = dotted.split(".")
        value = raw[section][leaf] * factor
        raw[section][leaf] = max(1, round(value)) if isinstance(raw[section][leaf], int) else value
    return raw


def apply_override(raw: dict, item: str, source: Path | str) -> None:
    """`a.b=value`, value parsed as YAML (so 4 is an int, true a bool)."""
    dotted, sep, text = item.partition("=")
    if not sep or not dotted:
        raise WorkloadError(f"--set {item!r}: expected FIELD=VALUE, e.g. storm.readers=8")
    *parents, leaf = _split_field(dotted)
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise WorkloadError(f"{source}: --set {dotted}: {part} is not a section")
    try:
        node[leaf] = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkloadError(f"--set {item!r}: the value is not valid YAML "
                            f"({getattr(exc, 'problem', None) or 'unreadable'})") from None


def _split_field(dotted: str) -> list[str]:
    """Split at dots, except inside a mapping field: `storm.consumer_config.fetch.max.bytes`
    is the librdkafka property `fetch.max.bytes` of `storm.consumer_config`."""
    parts = dotted.split(".")
    for i in range(1, len(parts)):
        if ".".join(parts[:i]) in _MAPPINGS:
            return [*parts[:i], ".".join(parts[i:])]
    return parts


def from_dict(raw: dict, source: str) -> WorkloadSpec:
    try:
        return WorkloadSpec.model_validate(raw)
    except ValidationError as exc:
        raise WorkloadError(one_line(exc, source, WorkloadSpec)) from None


def _number(text: str) -> float:
    """A rate step's seconds or rate; NaN (never >= 0) when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _mapping_fields() -> set[str]:
    """Dotted names of the sections' mapping fields (whose keys may hold dots)."""
    return {f"{section}.{name}" for section, info in WorkloadSpec.model_fields.items()
            if isinstance(info.annotation, type) and issubclass(info.annotation, Strict)
            for name, inner in info.annotation.model_fields.items()
            if typing.get_origin(inner.annotation) is dict}


_MAPPINGS = _mapping_fields()
