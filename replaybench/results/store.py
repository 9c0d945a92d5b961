"""Results on disk: results/<run-id>/ with manifest.json and Parquet files, written atomically.

Every Parquet file carries `replaybench.schema_version` in its metadata and a description on
every column, so any Parquet reader can make sense of it without replaybench. Times are integer
nanoseconds (wall clock for *_ns instants); units are in column names.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from replaybench.errors import UsageError
from replaybench.format.histograms import LatencyHistogram
from replaybench.results.run_record import RunRecord
from replaybench.results.schemas import SCHEMA_VERSION, SCHEMAS, schema


class ResultsError(UsageError):
    """The results directory cannot be written or read."""


def new_run_id(results_dir: Path, workload: str) -> str:
    """Timestamp + workload + random suffix; checked against what exists, so never reused."""
    while True:
        run_id = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{workload}-{secrets.token_hex(3)}"
        if not (results_dir / run_id).exists() and not (results_dir / f".{run_id}.partial").exists():
            return run_id


# The files a run writes (compat results write `compat`, evaluation/compat.py).
RUN_TABLES = ("timeseries", "latency", "latency_ticks", "restore_partitions", "restore_groups",
              "events", "verification", "faults", "interference", "migration", "mirror_content",
              "platform_metrics", "observability")


def write(results_dir: Path, record: RunRecord, manifest: dict[str, Any]) -> Path:
    """A run's files, written into a hidden partial directory, then renamed into place."""
    rows = {"timeseries": record.timeseries, "latency": latency_rows(record),
            "latency_ticks": tick_rows(record),
            "restore_partitions": record.partitions, "restore_groups": record.groups,
            "events": record.events, "verification": record.verification,
            "faults": record.faults, "migration": record.migration,
            "mirror_content": record.mirror_content,
            "platform_metrics": record.platform_metrics, "observability": record.observability,
            # the summary's comparisons, already plain dicts in the manifest
            "interference": manifest.get("summary", {}).get("comparisons", [])}
    return finish(new_partial(results_dir, record.run_id), rows, manifest)


def new_partial(results_dir: Path, result_id: str) -> Path:
    """The hidden directory a result is written into until finish() renames it."""
    partial = results_dir / f".{result_id}.partial"
    try:
        partial.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise ResultsError(f"{partial}: cannot create results directory ({exc.strerror})") from None
    return partial


def finish(partial: Path, tables: dict[str, list[dict[str, Any]]], manifest: dict[str, Any]) -> Path:
    """Write the tables and the manifest into `partial`, then rename it to its final name."""
    for name, data in tables.items():
        pq.write_table(_table(name, data), partial / f"{name}.parquet")
    (partial / "manifest.json").write_text(json.dumps(
        {"schema_version": SCHEMA_VERSION, **manifest}, indent=2, sort_keys=False, default=str) + "\n")
    final = partial.parent / partial.name[1:-len(".partial")]
    os.rename(partial, final)
    return final


def update_manifest(run_dir: Path, **fields: Any) -> None:
    """Change top-level manifest fields of a written run, atomically (write, then rename)."""
    path = run_dir / "manifest.json"
    info = {**json.loads(path.read_text()), **fields}
    partial = run_dir / ".manifest.json.partial"
    partial.write_text(json.dumps(info, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(partial, path)


def latency_rows(record: RunRecord) -> list[dict[str, Any]]:
    rows = []
    for (phase, role), acc in record.phases.items():
        for metric, hist in sorted(acc.histograms.items()):
            rows.append({"phase": phase, "role": role, "metric": metric, **hist.summary(),
                         "hdr_v2": hist.to_blob()})
    return rows


def tick_rows(record: RunRecord) -> list[dict[str, Any]]:
    return [{"phase": phase, "role": role, "tick": i, "buckets": buckets.tolist(),
             "counts": counts.tolist()}
            for (phase, role), ticks in record.latency_ticks.items()
            for i, (buckets, counts) in enumerate(ticks)]


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    cols = [c for c, _, _ in SCHEMAS[name]]
    return pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows], schema=schema(name))


def read_table(run_dir: Path, name: str) -> pa.Table:
    """A results table, refusing files of a schema version this build does not understand."""
    path = Path(run_dir) / f"{name}.parquet"
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    version = (table.schema.metadata or {}).get(b"replaybench.schema_version", b"?").decode()
    if version != str(SCHEMA_VERSION):
        raise ResultsError(f"{path}: schema_version {version}, this replaybench reads "
                           f"{SCHEMA_VERSION}")
    return table


def histogram(blob: bytes) -> LatencyHistogram:
    return LatencyHistogram.from_blob(blob)
