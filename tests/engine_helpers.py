"""Running the engine in-process against a test cluster, and reading its results back with
plain pyarrow (as any user would)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from replaybench.engine import runner

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"
SHORT = ("phases.warmup_s=1", "phases.warmup_max_s=1", "phases.baseline_s=2", "phases.recovery_s=2")


def run_smoke(cluster, cache_dir, tmp_path, name: str, *overrides: str,
              display: runner.Display | None = None) -> runner.RunOutcome:
    request = runner.RunRequest(WORKLOADS / f"{name}.yaml", cache_dir, SHORT + overrides, "smoke",
                                bootstrap=cluster.bootstrap, results_dir=tmp_path / "results")
    return runner.run(request, display)


def table(run_dir: Path, name: str) -> list[dict]:
    return pq.read_table(run_dir / f"{name}.parquet").to_pylist()


def manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())
