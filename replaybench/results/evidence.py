"""Everything stored under some paths, runs and compat results apart: the scorecard's input.
A path is a run, a compat result, or a folder of them (one level; a compat result's own
Kafka Streams run under runs/ counts too)."""

from __future__ import annotations

from pathlib import Path

from replaybench.results.compat_results import CompatResult, load_compat
from replaybench.results.runs import Run, RunsError, is_compat, load_run


def load(paths: list[Path]) -> tuple[list[Run], list[CompatResult]]:
    runs: list[Run] = []
    compats: list[CompatResult] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise RunsError(f"{path}: no such results directory")
        found = [path] if (path / "manifest.json").exists() else \
            sorted(p for p in path.iterdir() if (p / "manifest.json").exists())
        for item in found:
            if is_compat(item):
                compats.append(load_compat(item))
                runs += [load_run(p) for p in sorted((item / "runs").glob("*/"))
                         if (p / "manifest.json").exists()]
            else:
                runs.append(load_run(item))
    if not runs and not compats:
        raise RunsError(f"{', '.join(map(str, paths))}: no runs or compat results found")
    return runs, compats
