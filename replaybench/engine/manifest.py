"""The manifest of a run: what ran, where, with which software, and how it ended."""

from __future__ import annotations

import datetime as dt
from typing import Any

from replaybench.clusters.artifacts import kafka_opts
from replaybench.engine.workload import WorkloadSpec
from replaybench.kafka.client_config import redact, redact_override, redact_tree
from replaybench.results import provenance
from replaybench.results.run_record import RunRecord
from replaybench.results.summary import Summary


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
        "versions": provenance.versions(), "host": host(),
        "git_commit": provenance.git_commit(),
        "ray": ray_info, "placement": record.placement,
        "placement_plan": record.placement_plan,
        "phases": {p: {"start_ns": b[0], "end_ns": b[1]} for p, b in record.phase_bounds.items()},
        "summary": summary.to_dict(),
    }
    if replay:
        info["replay"] = replay
    return info


def host() -> dict[str, Any]:
    """The machine, with the extra flags of every Kafka JVM started here (KAFKA_OPTS): they
    change what the brokers and the Kafka Streams application measure."""
    return {**provenance.host(), "kafka_opts": [redact_override(o) for o in kafka_opts()]}


def _iso(ns: int) -> str | None:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.timezone.utc).isoformat() if ns else None
