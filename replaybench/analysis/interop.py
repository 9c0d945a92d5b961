"""Interop with the ecosystem: OpenMessaging Benchmark workloads in, HdrHistogram logs out."""

from __future__ import annotations

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


def import_omb(path: Path) -> str:
    """The OMB workload as replaybench workload YAML: live traffic shaped like OMB's, no restore
    (storm.readers 0); add a storm with --set or by editing."""
    # the project's strict reader: a duplicate key is refused, not silently the last one
    omb = read_mapping(path, "OMB workload", OmbImportError)
    unknown = sorted(set(omb) - _MAPPED - _IGNORED, key=str)
    if unknown:
        name = unknown[0] if looks_like_field(unknown[0]) else NOT_SHOWN
        raise OmbImportError(f"{path}: {name}: not an OMB workload field replaybench knows")
    _refuse(path, omb)
    producers = int(omb.get("producersPerTopic", 1))
    rate = float(omb["producerRate"])
    spec = {
        "version": 1, "name": _slug(str(omb.get("name", Path(path).stem))),
        "description": f"Imported from OpenMessaging Benchmark workload {omb.get('name', path)!s}",
        "seed": {"keys": 1000, "records": 1000},
        "live": {"producers": producers, "rate_per_s": max(1, round(rate / producers)),
                 "value_bytes": int(omb.get("messageSize", 1024)),
                 "consumers": int(omb.get("subscriptionsPerTopic", 1)), "topic": "live",
                 "partitions": int(omb.get("partitionsPerTopic", 1))},
        "storm": {"readers": 0},
        "phases": {"warmup_s": 60.0 * float(omb.get("warmupDurationMinutes", 0.05)),
                   "baseline_s": 60.0 * float(omb.get("testDurationMinutes", 1)),
                   "recovery_s": 0.0},
    }
    notes = [f"# {k}: {omb[k]!r} is not used (replaybench payloads are random bytes, keys are "
             "drawn uniformly)" for k in sorted(_IGNORED & set(omb))]
    if int(omb.get("consumerPerSubscription", 1)) > 1:
        notes.append(f"# consumerPerSubscription: {omb['consumerPerSubscription']} became one tail "
                     "consumer per subscription (each reads every partition)")
    return "\n".join([*notes, yaml.safe_dump(spec, sort_keys=False)])


def _refuse(path: Path, omb: dict) -> None:
    checks = (
        ("topics", int(omb.get("topics", 1)) != 1, "replaybench drives one live topic"),
        ("producerRate", float(omb.get("producerRate", 0)) <= 0,
         "needs a fixed rate > 0 (replaybench producers are open loop)"),
        ("messageSize", int(omb.get("messageSize", 1024)) < 48,
         "below replaybench's 48-byte record header"),
        ("consumerBacklogSizeGB", float(omb.get("consumerBacklogSizeGB", 0)) > 0,
         "backlog drain is a restore: use a restore-storm workload instead"),
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
