"""External cluster profiles: a YAML file naming a real cluster (AutoMQ, MSK, Confluent, any
Kafka-compatible service), how to connect, labels for comparisons, and optional shell hooks so
that the workloads' drills run against it too.

    version: 1
    name: staging
    bootstrap: broker-1.example:9092
    client_config: {security.protocol: SASL_SSL, sasl.password: "${KAFKA_PASSWORD}"}
    labels: {storage: s3, vendor: automq, version: "1.4"}
    hooks: {kill: "kubectl delete pod kafka-{broker} --grace-period=0", ...}

Secrets are environment-variable references, expanded at load and redacted in the manifest.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from replaybench.errors import UsageError
from replaybench.strict_yaml import parse_yaml

HOOKS = ("kill", "restart", "replace", "pause", "resume", "data_bytes")
_FIELDS = ("version", "name", "bootstrap", "client_config", "labels", "hooks")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HOOK_TIMEOUT_S = 600


class ProfileError(UsageError):
    """A cluster profile that cannot be used, or a hook that failed."""


@dataclass(frozen=True)
class ClusterProfile:
    name: str
    bootstrap: str
    client_config: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    hooks: dict[str, str] = field(default_factory=dict)


def load(path: Path) -> ClusterProfile:
    try:
        raw = parse_yaml(Path(path).read_text())
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such cluster profile") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a cluster profile is a mapping of fields")
    for key in raw:
        if key not in _FIELDS:
            hint = difflib.get_close_matches(str(key), _FIELDS, n=1)
            raise ProfileError(f"{path}: {key}: unknown field"
                               + (f" (did you mean '{hint[0]}'?)" if hint else ""))
    if raw.get("version") != 1:
        raise ProfileError(f"{path}: version: expected 1, got {raw.get('version')!r}")
    for key in ("name", "bootstrap"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ProfileError(f"{path}: {key}: expected a non-empty string, got {raw.get(key)!r}")
    sections = {}
    for key in ("client_config", "labels", "hooks"):
        value = raw.get(key) or {}
        if not isinstance(value, dict):
            raise ProfileError(f"{path}: {key}: expected a mapping, got {value!r}")
        sections[key] = {str(k): str(v) for k, v in value.items()}
    for hook in sections["hooks"]:
        if hook not in HOOKS:
            raise ProfileError(f"{path}: hooks.{hook}: unknown hook; hooks are {', '.join(HOOKS)}")
    config = {k: _expand(v, path, f"client_config.{k}") for k, v in sections["client_config"].items()}
    return ClusterProfile(raw["name"], raw["bootstrap"], config, sections["labels"],
                          sections["hooks"])


def _expand(value: str, path: Path, where: str) -> str:
    def lookup(match: re.Match) -> str:
        if match.group(1) not in os.environ:
            raise ProfileError(f"{path}: {where}: environment variable {match.group(1)} is not set")
        return os.environ[match.group(1)]
    return _ENV.sub(lookup, value)


class HookCluster:
    """Drills through the profile's shell hooks; `{broker}` in a hook is the broker id. Only
    that placeholder is replaced: any other braces (`${VAR}`, awk's `{print}`) reach the shell
    as written."""

    def __init__(self, profile: ClusterProfile) -> None:
        self.profile = profile

    def _run(self, hook: str, node_id: int) -> str:
        command = self.profile.hooks.get(hook)
        if command is None:
            raise ProfileError(f"cluster profile {self.profile.name}: no '{hook}' hook for this drill")
        done = subprocess.run(command.replace("{broker}", str(node_id)), shell=True,
                              capture_output=True,
                              text=True, timeout=HOOK_TIMEOUT_S)
        if done.returncode != 0:
            tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
            raise ProfileError(f"hook {hook} (broker {node_id}) exited {done.returncode}: {tail[0]}")
        return done.stdout

    def kill(self, node_id: int) -> None:
        self._run("kill", node_id)

    def restart(self, node_id: int) -> None:
        self._run("restart", node_id)

    def replace(self, node_id: int) -> None:
        self._run("replace", node_id)

    def pause(self, node_id: int) -> None:
        self._run("pause", node_id)

    def resume(self, node_id: int) -> None:
        self._run("resume", node_id)

    def data_bytes(self, node_id: int) -> int:
        if "data_bytes" not in self.profile.hooks:
            return 0
        text = self._run("data_bytes", node_id).strip().split()
        return int(text[0]) if text and text[0].isdigit() else 0
