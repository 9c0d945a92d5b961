"""Workload files: YAML loaded into one frozen, validated, hashed spec.

Every mistake is one line naming the file, the field and the value; unknown keys get a
close-match suggestion. `--set a.b=v` overrides any field before validation.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from replaybench.errors import ReplaybenchError

SUPPORTED_VERSION = 1


class WorkloadError(ReplaybenchError):
    """A workload file or override that cannot be used, named by file, field and value."""


@dataclass(frozen=True)
class Topic:
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
    producers: int = 1
    rate_per_s: int = 2_000
    value_bytes: int = 100
    consumers: int = 1


@dataclass(frozen=True)
class Storm:
    readers: int = 4
    groups: int = 1
    stagger_s: float = 0.0


@dataclass(frozen=True)
class Phases:
    baseline_s: float = 10.0
    storm_timeout_s: float = 300.0
    recovery_s: float = 10.0


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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        """Stable over key order and formatting: two runs compare only if their hashes match."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# (minimum, maximum) for numeric fields; None: unbounded.
_RANGES = {
    "topic.partitions": (1, 10_000), "topic.replication": (1, 7),
    "seed.keys": (1, None), "seed.records": (1, None), "seed.value_bytes": (48, 10 << 20),
    "seed.tombstone_ratio": (0.0, 0.9), "live.producers": (0, 1_000),
    "live.rate_per_s": (1, None), "live.value_bytes": (48, 10 << 20), "live.consumers": (0, 1_000),
    "storm.readers": (0, 10_000), "storm.groups": (1, 100), "storm.stagger_s": (0.0, None),
    "phases.baseline_s": (0.0, None), "phases.storm_timeout_s": (1.0, None),
    "phases.recovery_s": (0.0, None),
}


def load(path: Path, overrides: list[str] = ()) -> WorkloadSpec:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise WorkloadError(f"{path}: no such workload file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise WorkloadError(f"{path}:{where} not valid YAML" + (f" ({problem})" if problem else "")) from None
    if not isinstance(raw, dict):
        raise WorkloadError(f"{path}: a workload is a mapping of fields, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item, path)
    return from_dict(raw, str(path))


def apply_override(raw: dict, item: str, source: Path | str) -> None:
    """`a.b=value`, value parsed as YAML (so 4 is an int, true a bool)."""
    dotted, sep, text = item.partition("=")
    if not sep or not dotted:
        raise WorkloadError(f"--set {item!r}: expected FIELD=VALUE, e.g. storm.readers=8")
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise WorkloadError(f"{source}: --set {dotted}: {part} is not a section")
    node[leaf] = yaml.safe_load(text)


def from_dict(raw: dict, source: str) -> WorkloadSpec:
    version = raw.get("version")
    if version != SUPPORTED_VERSION:
        raise WorkloadError(f"{source}: version: expected {SUPPORTED_VERSION}, got {version!r}")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise WorkloadError(f"{source}: name: expected a non-empty string, got {raw.get('name')!r}")
    return _build(WorkloadSpec, raw, source, "")


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
        if section is not None:
            values[name] = _build(section, raw[name], source, path + ".")
        else:
            values[name] = _check(path, raw[name], f.type, source)
    return cls(**values)


_SECTIONS = {"Topic": Topic, "Seed": Seed, "Live": Live, "Storm": Storm, "Phases": Phases}


def _check(path: str, value: Any, declared: Any, source: str) -> Any:
    kind = str(declared)
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise WorkloadError(f"{source}: {path}: expected an integer, got {value!r}")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WorkloadError(f"{source}: {path}: expected a number, got {value!r}")
        value = float(value)
    if kind == "bool" and not isinstance(value, bool):
        raise WorkloadError(f"{source}: {path}: expected true or false, got {value!r}")
    if kind == "str" and not isinstance(value, str):
        raise WorkloadError(f"{source}: {path}: expected a string, got {value!r}")
    if kind.startswith("dict"):
        if not isinstance(value, dict):
            raise WorkloadError(f"{source}: {path}: expected a mapping, got {value!r}")
        value = {str(k): str(v) for k, v in value.items()}
    low, high = _RANGES.get(path, (None, None))
    if low is not None and value < low or high is not None and value > high:
        bounds = f"{low}..{high if high is not None else ''}"
        raise WorkloadError(f"{source}: {path}: {value!r} is outside {bounds}")
    return value
