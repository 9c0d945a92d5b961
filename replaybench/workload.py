"""Workload files: YAML loaded into one frozen, validated, hashed spec.

Every mistake is one line naming the file, the field and the value; unknown keys get a
close-match suggestion. `--set a.b=v` overrides any field before validation.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from replaybench.errors import UsageError
from replaybench.strict_yaml import parse_yaml

SUPPORTED_VERSION = 1
# A workload's name goes into results directory names and topic names: letters, digits, '.',
# '_' and '-', not starting with a dot (so no '..', no slash, no control character).
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


class WorkloadError(UsageError):
    """A workload file or override that cannot be used, named by file, field and value."""


@dataclass(frozen=True)
class Topic:
    """The changelog a restore rebuilds."""
    name: str = ""                 #: empty: "rb-<run id>-changelog", fresh per run
    partitions: int = 8
    replication: int = 1
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seed:
    keys: int = 100_000
    records: int = 400_000
    value_bytes: int = 100
    tombstone_ratio: float = 0.02
    random_payload: bool = True


@dataclass(frozen=True)
class Live:
    """Live traffic: open-loop producers at a fixed rate and tailing consumers."""
    producers: int = 1
    rate_per_s: int = 2_000        #: per producer
    rate_steps: dict[str, str] = field(default_factory=dict)  #: seconds into the run -> rate
    value_bytes: int = 100
    consumers: int = 1
    topic: str = "live"            #: "live": a topic of its own; "changelog": append to it
    partitions: int = 4            #: of the live topic
    keys: int = 10_000             #: key space of the live topic
    producer_config: dict[str, str] = field(default_factory=dict)  #: librdkafka, passed through
    consumer_config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Storm:
    """Parallel restores: `groups` jobs, each with `readers` readers over all partitions."""
    readers: int = 4
    groups: int = 1
    stagger_s: float = 0.0         #: between group starts
    follow: bool = False           #: moving target: read past the storm-start offsets
    caught_up_lag: int = 100       #: records; with follow, caught up below this lag
    consumer_config: dict[str, str] = field(default_factory=dict)  #: librdkafka, passed through
    #: the readers' consumer (roles/restore_batches.py): native where built, or confluent-kafka
    client: str = "auto"


@dataclass(frozen=True)
class Phases:
    warmup_s: float = 3.0          #: live traffic before baseline, not judged; at least this,
    warmup_max_s: float = 30.0     #: at most this: until live p99 is steady (see settle_*)
    baseline_s: float = 10.0
    storm_timeout_s: float = 300.0
    recovery_s: float = 10.0       #: at most; ends early once latency settled
    settle_ratio: float = 1.5      #: settled: live p99 of a tick <= ratio x baseline p99 ...
    settle_ticks: int = 3          #: ... for this many ticks in a row


@dataclass(frozen=True)
class Fault:
    """A drill during the storm: at `at_s` seconds after storm start, or once the first restore
    group has read `at_restore_percent` of its target."""
    action: str = "kill"           #: kill, replace, pause, restart
    broker: int = 1                #: node id (1..brokers on the embedded cluster)
    at_s: float = -1.0             #: -1: not time-triggered
    at_restore_percent: float = -1.0  #: -1: not progress-triggered
    duration_s: float = 5.0        #: pause: how long; kill: until restart (0: stays down)


@dataclass(frozen=True)
class ClusterShape:
    brokers: int = 1               #: embedded cluster size this workload wants (--brokers wins)


@dataclass(frozen=True)
class WorkloadSpec:
    version: int
    name: str
    description: str = ""
    topic: Topic = field(default_factory=Topic)
    seed: Seed = field(default_factory=Seed)
    live: Live = field(default_factory=Live)
    storm: Storm = field(default_factory=Storm)
    phases: Phases = field(default_factory=Phases)
    cluster: ClusterShape = field(default_factory=ClusterShape)
    faults: tuple = ()             #: of Fault

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
            section, leaf = dotted.split(".")
            spec[section].pop(leaf)
        spec.pop("description")
        return _digest(spec)


# Restore parallelism and client settings: what a comparison or a sweep varies.
TUNABLES = ("storm.readers", "storm.consumer_config", "storm.client", "live.producer_config",
            "live.consumer_config")


def _digest(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# (minimum, maximum) for numeric fields; None: unbounded.
_RANGES = {
    "topic.partitions": (1, 10_000), "topic.replication": (1, 7),
    "seed.keys": (1, None), "seed.records": (1, None), "seed.value_bytes": (48, 10 << 20),
    "seed.tombstone_ratio": (0.0, 0.9), "live.producers": (0, 1_000),
    "live.rate_per_s": (1, None), "live.value_bytes": (48, 10 << 20), "live.consumers": (0, 1_000),
    "storm.readers": (0, 10_000), "storm.groups": (1, 100), "storm.stagger_s": (0.0, None),
    "phases.baseline_s": (0.0, None), "phases.storm_timeout_s": (1.0, None),
    "phases.recovery_s": (0.0, None), "phases.warmup_s": (0.0, None),
    "phases.warmup_max_s": (0.0, None), "phases.settle_ratio": (1.0, None),
    "phases.settle_ticks": (1, 3600), "live.partitions": (1, 10_000), "live.keys": (1, None),
    "storm.caught_up_lag": (0, None), "cluster.brokers": (1, 9),
    "broker": (1, 9), "at_s": (-1.0, 86_400.0), "at_restore_percent": (-1.0, 100.0),
    "duration_s": (0.0, 3_600.0),
}
_CHOICES = {"live.topic": ("live", "changelog"), "storm.client": ("auto", "native", "confluent-kafka"),
            "action": ("kill", "replace", "pause", "restart")}

# --scale: multipliers on sizes and durations; `default` is the file as written, and --set
# overrides apply after scaling.
SCALES = {
    "smoke": {"seed.keys": 0.1, "seed.records": 0.1, "phases.baseline_s": 0.3,
              "phases.recovery_s": 0.3, "live.keys": 0.1},
    "default": {},
    "large": {"seed.keys": 10, "seed.records": 10, "phases.baseline_s": 3,
              "phases.recovery_s": 3, "phases.storm_timeout_s": 4, "live.keys": 10},
}


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
    version = raw.get("version")
    if version != SUPPORTED_VERSION:
        raise WorkloadError(f"{source}: version: expected {SUPPORTED_VERSION}, got {version!r}")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise WorkloadError(f"{source}: name: expected a non-empty string, got {raw.get('name')!r}")
    if not _SAFE_NAME.fullmatch(raw["name"]):
        raise WorkloadError(f"{source}: name: {raw['name']!r} is not safe in a path or a topic "
                            "name (letters, digits, '.', '_', '-'; at most 100; no leading dot)")
    spec = _build(WorkloadSpec, raw, source, "")
    _check_together(spec, source)
    return spec


def _check_together(spec: WorkloadSpec, source: str) -> None:
    """Rules that span fields."""
    if spec.live.topic == "live" and spec.live.keys < spec.live.producers:
        raise WorkloadError(f"{source}: live.keys: {spec.live.keys} is fewer than live.producers "
                            f"({spec.live.producers}); each producer owns a share of the keys")
    if spec.live.topic == "changelog" and spec.seed.keys < spec.live.producers:
        raise WorkloadError(f"{source}: seed.keys: {spec.seed.keys} is fewer than live.producers")
    if spec.storm.follow and spec.live.topic != "changelog":
        raise WorkloadError(f"{source}: storm.follow: true needs live.topic: changelog "
                            "(nothing else moves the target)")
    for at, rate in spec.live.rate_steps.items():
        try:
            ok = float(at) >= 0 and float(rate) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise WorkloadError(f"{source}: live.rate_steps: {at}: {rate} is not "
                                "'seconds: records per second' (both numbers >= 0)")


def _build(cls, raw: Any, source: str, prefix: str):
    if not isinstance(raw, dict):
        raise WorkloadError(f"{source}: {prefix.rstrip('.')}: expected a section, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            hint = difflib.get_close_matches(str(key), fields, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise WorkloadError(f"{source}: {prefix}{key}: unknown field{suggestion}")
    values = {}
    for name, f in fields.items():
        if name not in raw:
            continue
        path = prefix + name
        section = _SECTIONS.get(f.type)  # annotations are strings (postponed evaluation)
        if name == "faults":
            values[name] = _faults(raw[name], source)
        elif section is not None:
            values[name] = _build(section, raw[name], source, path + ".")
        else:
            values[name] = _check(path, raw[name], f.type, source)
    return cls(**values)


_MAPPINGS = {"topic.configs", "live.rate_steps", "live.producer_config", "live.consumer_config",
             "storm.consumer_config"}
_SECTIONS = {"Topic": Topic, "Seed": Seed, "Live": Live, "Storm": Storm, "Phases": Phases,
             "ClusterShape": ClusterShape, "Fault": Fault}


def _faults(raw: Any, source: str) -> tuple:
    if not isinstance(raw, (list, tuple)):
        raise WorkloadError(f"{source}: faults: expected a list of drills, got {raw!r}")
    faults = []
    for i, item in enumerate(raw):
        fault = _build(Fault, item, source, f"faults[{i}].")
        triggers = (fault.at_s >= 0) + (fault.at_restore_percent >= 0)
        if triggers != 1:
            raise WorkloadError(f"{source}: faults[{i}]: give exactly one of at_s or "
                                "at_restore_percent")
        faults.append(fault)
    return tuple(faults)


def _check(path: str, value: Any, declared: Any, source: str) -> Any:
    kind = str(declared)
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise WorkloadError(f"{source}: {path}: expected an integer, got {value!r}")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WorkloadError(f"{source}: {path}: expected a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise WorkloadError(f"{source}: {path}: expected a finite number, got {value!r}")
    if kind == "bool" and not isinstance(value, bool):
        raise WorkloadError(f"{source}: {path}: expected true or false, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise WorkloadError(f"{source}: {path}: expected a string, got {value!r}")
    if kind.startswith("dict"):
        if not isinstance(value, dict):
            raise WorkloadError(f"{source}: {path}: expected a mapping, got {value!r}")
        value = {str(k): str(v) for k, v in value.items()}
    choices = _CHOICES.get(path) or _CHOICES.get(path.rsplit(".", 1)[-1] if "[" in path else "")
    if choices and value not in choices:
        raise WorkloadError(f"{source}: {path}: {value!r} is not one of {', '.join(choices)}")
    low, high = _RANGES.get(path) or _RANGES.get(path.rsplit(".", 1)[-1] if "[" in path else "",
                                                (None, None))
    if low is not None and value < low or high is not None and value > high:
        bounds = f"{low}..{high if high is not None else ''}"
        raise WorkloadError(f"{source}: {path}: {value!r} is outside {bounds}")
    return value
