"""Interop with the ecosystem: OpenMessaging Benchmark workloads in, HdrHistogram logs out."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from hdrh.log import HistogramLogWriter

from replaybench.errors import UsageError
from replaybench.results.runs import Run
from replaybench.strict_yaml import read_mapping
from replaybench.validation import NOT_SHOWN, looks_like_field

# OMB fields replaybench maps, and those it accepts but has no use for (payload shaping).
_MAPPED = {"name", "topics", "partitionsPerTopic", "messageSize", "subscriptionsPerTopic",
           "consumerPerSubscription", "producersPerTopic", "producerRate",
           "consumerBacklogSizeGB", "testDurationMinutes", "warmupDurationMinutes"}
_IGNORED = {"payloadFile", "useRandomizedPayloads", "randomBytesRatio", "randomizedPayloadPoolSize",
            "keyDistributor"}


class OmbImportError(UsageError):
    """An OMB workload replaybench cannot express."""


def import_omb(path: Path, env: dict[str, str] | None = None) -> str:
    """The OMB workload as replaybench workload YAML, live traffic shaped like OMB's:
    - no backlog: live traffic alone (storm.readers 0); add a storm with --set or by editing;
    - `consumerBacklogSizeGB > 0`, OMB's backlog drain: the backlog is the changelog and its
      drain the restore (one restore group per subscription, its consumers the readers,
      following the producers' appends as OMB's consumers do), measured and verified like any
      other;
    - `topics: N`: N topics of P partitions become one live topic of N x P partitions (said in
      the file): replaybench drives one live topic.
    `${VAR:-default}` values are read from `env` (default: the environment), as OMB does."""
    # the project's strict reader: a duplicate key is refused, not silently the last one
    omb = _resolved(path, read_mapping(path, "OMB workload", OmbImportError),
                    os.environ if env is None else env)
    unknown = sorted(set(omb) - _MAPPED - _IGNORED, key=str)
    if unknown:
        name = unknown[0] if looks_like_field(unknown[0]) else NOT_SHOWN
        raise OmbImportError(f"{path}: {name}: not an OMB workload field replaybench knows")
    _refuse(path, omb)
    producers = int(omb.get("producersPerTopic", 1))
    rate = float(omb["producerRate"])
    topics, parts = int(omb.get("topics", 1)), int(omb.get("partitionsPerTopic", 1))
    size = int(omb.get("messageSize", 1024))
    subscriptions = int(omb.get("subscriptionsPerTopic", 1))
    spec = {
        "version": 1, "name": _slug(str(omb.get("name", Path(path).stem))),
        "description": f"Imported from OpenMessaging Benchmark workload {omb.get('name', path)!s}",
        "seed": {"keys": 1000, "records": 1000},
        "live": {"producers": producers, "rate_per_s": max(1, round(rate / producers)),
                 "value_bytes": size, "consumers": subscriptions, "topic": "live",
                 "partitions": parts * topics},
        "storm": {"readers": 0},
        "phases": {"warmup_s": 60.0 * float(omb.get("warmupDurationMinutes", 0.05)),
                   "baseline_s": 60.0 * float(omb.get("testDurationMinutes", 1)),
                   "recovery_s": 0.0},
    }
    notes = [f"# {k}: {omb[k]!r} is not used (replaybench payloads are random bytes, keys are "
             "drawn uniformly)" for k in sorted(_IGNORED & set(omb))]
    if topics > 1:
        notes.append(f"# topics: {topics} x partitionsPerTopic: {parts} became one live topic of "
                     f"{topics * parts} partitions written by {producers} producer(s) at the "
                     "same total rate (replaybench drives one live topic)")
    backlog = float(omb.get("consumerBacklogSizeGB", 0))
    if backlog > 0:
        _as_backlog_drain(spec, omb, backlog, size, subscriptions, notes)
    elif int(omb.get("consumerPerSubscription", 1)) > 1:
        notes.append(f"# consumerPerSubscription: {omb['consumerPerSubscription']} became one tail "
                     "consumer per subscription (each reads every partition)")
    return "\n".join([*notes, yaml.safe_dump(spec, sort_keys=False)])


def _as_backlog_drain(spec: dict, omb: dict, backlog_gb: float, size: int, subscriptions: int,
                      notes: list[str]) -> None:
    """OMB's backlog drain as a restore: the backlog (written before, the consumers paused) is
    the changelog; the drain, while producers go on appending, is a storm with `follow`."""
    records = max(1, int(backlog_gb * (1 << 30) // (size + 8)))
    spec["topic"] = {"partitions": spec["live"]["partitions"],
                     "configs": {"cleanup.policy": "delete"}}
    spec["seed"] = {"keys": min(records, 1_000_000), "records": records, "value_bytes": size,
                    "tombstone_ratio": 0.0}
    spec["live"].update({"topic": "changelog", "consumers": 0})
    spec["live"].pop("partitions")
    spec["storm"] = {"readers": int(omb.get("consumerPerSubscription", 1)),
                     "groups": subscriptions, "follow": True}
    spec["phases"].update({"recovery_s": spec["phases"].pop("baseline_s"), "baseline_s": 10.0})
    notes.append(f"# consumerBacklogSizeGB: {backlog_gb:g} became the changelog the restore "
                 f"drains: {records:,} records of {size} B, read by {subscriptions} restore "
                 "group(s) while the producers go on appending (OMB's drain)")


_DEFAULTED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _resolved(path: Path, omb: dict, env) -> dict:
    """Shell-style `${VAR:-default}` values, as OMB resolves them; a number stays a number."""
    out = {}
    for key, value in omb.items():
        if isinstance(value, str) and (match := _DEFAULTED.fullmatch(value.strip())):
            name, default = match.group(1), match.group(2)
            if name not in env and default is None:
                raise OmbImportError(f"{path}: {key}: ${{{name}}} is not set and has no default")
            value = yaml.safe_load(env.get(name, default) or "")
        out[key] = value
    return out


def _refuse(path: Path, omb: dict) -> None:
    """What has no counterpart here, in one line naming the field."""
    checks = (
        ("topics", int(omb.get("topics", 1)) < 1, "at least one topic"),
        ("producerRate", float(omb.get("producerRate", 0)) <= 0,
         "OMB's search for the highest sustainable rate has no counterpart here: replaybench "
         "producers are open loop at a fixed rate > 0"),
        ("messageSize", int(omb.get("messageSize", 1024)) < 48,
         "below replaybench's 48-byte record header"),
    )
    for name, bad, why in checks:
        if bad:
            raise OmbImportError(f"{path}: {name}: {omb.get(name)!r} cannot be imported ({why})")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "omb"


def export_hdr_log(run: Run, role: str, metric: str, out: Path) -> int:
    """One interval per phase (with the phase's real start and end) in the HdrHistogram log
    format; returns how many intervals were written."""
    bounds = run.manifest.get("phases", {})
    written = 0
    with open(out, "w") as fh:
        writer = HistogramLogWriter(fh)
        writer.output_comment(f"replaybench run {run.manifest.get('run_id')}: {role} {metric}, "
                              "values in ns, one interval per phase")
        writer.output_log_format_version()
        writer.output_legend()
        for phase, b in sorted(bounds.items(), key=lambda kv: kv[1]["start_ns"]):
            hist = run.histogram(phase, role, metric)
            if not hist.count:
                continue
            writer.output_comment(f"phase {phase}")
            writer.output_interval_histogram(hist.hist, b["start_ns"] / 1e9,
                                             (b["end_ns"] or b["start_ns"]) / 1e9)
            written += 1
        writer.close()
    return written
