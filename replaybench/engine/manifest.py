"""The manifest of a run: what ran, where, with which software, and how it ended."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from replaybench import __version__
from replaybench.engine.client_config import redact, redact_override, redact_tree
from replaybench.engine.workload import WorkloadSpec
from replaybench.format import core
from replaybench.results.run_record import RunRecord
from replaybench.results.summary import Summary

_LIBRARIES = ("confluent-kafka", "numpy", "pyarrow", "ray", "hdrhistogram", "click", "Cython")


def build(record: RunRecord, spec: WorkloadSpec, request: dict[str, Any], cluster: dict[str, Any],
          client_configs: dict[str, dict], summary: Summary, ray_info: dict[str, str],
          replay: dict[str, Any] | None = None) -> dict:
    """replay: the identity of a replayed existing topic; it is part of the scenario, so two
    replays compare only if they read the same topic (name, topic id, cluster, partitions)."""
    info = {
        "run_id": record.run_id, "status": record.status, "reason": record.reason,
        "started": _iso(record.started_ns), "ended": _iso(record.ended_ns),
        "started_ns": record.started_ns, "ended_ns": record.ended_ns,
        "workload": {"name": spec.name, "hash": spec.hash,
                     "scenario_hash": spec.scenario_hash_with(replay),
                     "spec": redact_tree(spec.to_dict()),
                     **{**request, "overrides": [redact_override(o)
                                                 for o in request.get("overrides", [])]}},
        "cluster": cluster,
        "client_configs": {role: redact(cfg) for role, cfg in client_configs.items()},
        "versions": versions(), "host": host(), "git_commit": git_commit(),
        "ray": ray_info, "placement": record.placement,
        "placement_plan": record.placement_plan,
        "phases": {p: {"start_ns": b[0], "end_ns": b[1]} for p, b in record.phase_bounds.items()},
        "summary": summary.to_dict(),
    }
    if replay:
        info["replay"] = replay
    return info


def versions() -> dict[str, str]:
    import confluent_kafka
    out = {"replaybench": __version__, "python": platform.python_version(),
           "librdkafka": confluent_kafka.libversion()[0],
           "core": "compiled" if core.implementation().__name__.endswith("_core") else "fallback"}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def host() -> dict[str, Any]:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = 0
    return {"hostname": socket.gethostname(), "cpus": os.cpu_count(), "memory_bytes": memory,
            "platform": platform.platform()}


def git_commit() -> str | None:
    """The replaybench checkout's commit, if it is one (with `+dirty` for local changes)."""
    root = Path(__file__).resolve().parents[2]   # the repository (replaybench/engine/..)
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "replaybench",
                                "ext"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _iso(ns: int) -> str | None:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat() if ns else None
