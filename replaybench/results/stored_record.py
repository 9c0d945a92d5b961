"""A stored run read back as the RunRecord its judges read in the run: its restore groups, its
checks, its phases' histograms and their per-tick counts. What the judges need and the run did
not store (a run written before the judges' inputs were kept) is reported, not guessed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from replaybench.format.histograms import LatencyHistogram
from replaybench.meters.snapshots import Accumulator
from replaybench.results import store
from replaybench.results.run_record import RunRecord


def load_record(run_dir: Path, manifest: dict) -> RunRecord:
    record = RunRecord(str(manifest.get("run_id", Path(run_dir).name)),
                       int(manifest.get("started_ns", 0)), status=manifest.get("status", ""))
    record.groups = rows(run_dir, "restore_groups")
    record.verification = rows(run_dir, "verification")
    for row in rows(run_dir, "latency"):
        acc = record.phases.setdefault((row["phase"], row["role"]), Accumulator())
        acc.histograms[row["metric"]] = LatencyHistogram.from_blob(row["hdr_v2"])
    for row in sorted(rows(run_dir, "latency_ticks"), key=lambda r: r["tick"]):
        record.latency_ticks.setdefault((row["phase"], row["role"]), []).append(
            (np.array(row["buckets"], np.int64), np.array(row["counts"], np.int64)))
    return record


def has_ticks(run_dir: Path) -> bool:
    """Whether the run kept its per-tick latency (the interference judge's input)."""
    return (Path(run_dir) / "latency_ticks.parquet").exists()


def rows(run_dir: Path, name: str) -> list[dict]:
    """A stored table's rows; none when the run did not write that file."""
    if not (Path(run_dir) / f"{name}.parquet").exists():
        return []
    return store.read_table(run_dir, name).to_pylist()
