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

import os
import re
import subprocess
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from replaybench.errors import UsageError
from replaybench.strict_yaml import parse_yaml
from replaybench.validation import NonEmptyText, Properties, Strict, format_version, one_line

HOOKS = ("kill", "restart", "replace", "pause", "resume", "data_bytes")
_MAPPINGS = ("client_config", "labels", "hooks")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
HOOK_TIMEOUT_S = 600


class ProfileError(UsageError):
    """A cluster profile that cannot be used, or a hook that failed."""


class ClusterProfile(Strict):
    version: format_version(1) = Field(None, validate_default=True)
    name: NonEmptyText = Field(None, validate_default=True)
    bootstrap: NonEmptyText = Field(None, validate_default=True)
    client_config: Properties = {}   #: ${VAR} references expanded by load()
    labels: Properties = {}
    hooks: Properties = {}

    @model_validator(mode="after")
    def _known_hooks(self) -> ClusterProfile:
        for hook in self.hooks:
            if hook not in HOOKS:
                raise ValueError(f"hooks.{hook}: unknown hook; hooks are {', '.join(HOOKS)}")
        return self


def load(path: Path) -> ClusterProfile:
    try:
        raw = parse_yaml(Path(path).read_text())
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such cluster profile") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a cluster profile is a mapping of fields")
    # YAML's empty value (`labels:`) means none
    raw = {k: {} if v is None and k in _MAPPINGS else v for k, v in raw.items()}
    try:
        profile = ClusterProfile.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(one_line(exc, str(path), ClusterProfile)) from None
    config = {k: _expand(v, path, f"client_config.{k}") for k, v in profile.client_config.items()}
    return profile.model_copy(update={"client_config": config})


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
