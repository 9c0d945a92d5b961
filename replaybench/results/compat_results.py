"""Stored compat results (`replaybench compat`) read back, for the scorecard."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from replaybench.results import store
from replaybench.results.runs import RunsError

# The checks `replaybench compat` runs, in order (evaluation/compat.py; docs/compat.md).
CHECKS = ("idempotent_producer", "transactions", "consume_transform_produce", "consumer_groups",
          "offsets", "compaction", "admin_api", "operator_tools", "kafka_streams")


@dataclass
class CompatResult:
    path: Path
    manifest: dict
    rows: list[dict] = field(default_factory=list)

    def status(self, check: str) -> str | None:
        return next((r["status"] for r in self.rows if r["check"] == check), None)


def load_compat(path: Path) -> CompatResult:
    manifest_path = Path(path) / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise RunsError(f"{manifest_path}: cannot read ({exc})") from None
    if manifest.get("kind") != "compat":
        raise RunsError(f"{path}: not a compat result")
    return CompatResult(Path(path), manifest, store.read_table(path, "compat").to_pylist())
