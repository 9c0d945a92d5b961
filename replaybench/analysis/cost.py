"""What a restore costs on each measured storage model, and what the capacity held ready for
the recovery objective costs per month, from a price sheet (price_sheet.yaml, overridable).

Measured, per storage model, from the stored runs: restore throughput and readers, the
object-store GETs and bytes per restored GB (S3-backed brokers: the S3 server's counters;
Tiered Storage: the brokers' remote-fetch counters, one GET per remote fetch), and the bytes a
replaced broker fetched back. Extrapolated: all of it scaled linearly to the state size; the
readers that meet the RTO come from plan's saturating fit over a sweep of reader counts (with
one count measured, only whether that count meets it).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from replaybench.errors import UsageError
from replaybench.results import runs as runs_mod
from replaybench.results.runs import Run
from replaybench.strict_yaml import read_mapping
from replaybench.validation import shown_key

DEFAULT_SHEET = Path(__file__).with_name("price_sheet.yaml")


class PriceSheetError(UsageError):
    """A price sheet that cannot be used."""


@dataclass(frozen=True)
class PriceSheet:
    source: str
    date: str
    currency: str
    instance_hour: float
    readers_per_instance: int
    hours_per_month: float
    disk_gb_month: float
    object_storage_gb_month: float
    object_get_per_1000: float
    object_put_per_1000: float
    object_read_per_gb: float
    cross_zone_per_gb: float
    cross_zone_share: float


def load_prices(path: Path | None = None) -> PriceSheet:
    """The default sheet, with the fields of `path` (if given) over it."""
    values = read_mapping(DEFAULT_SHEET, "price sheet", PriceSheetError)
    if path is not None:
        values.update(read_mapping(path, "price sheet", PriceSheetError))
    names = {f.name: f.type for f in fields(PriceSheet)}
    for key, value in values.items():
        if key not in names:
            raise PriceSheetError(f"{path}: unknown field {shown_key(key)}; known: "
                                  f"{', '.join(names)}")
        if names[key] in ("float", "int") and (isinstance(value, bool) or
                                               not isinstance(value, (int, float)) or value < 0):
            raise PriceSheetError(f"{path}: {key}: {value!r} is not a price (a number >= 0)")
    if not values["readers_per_instance"] >= 1:
        raise PriceSheetError(f"{path}: readers_per_instance must be at least 1")
    return PriceSheet(**{k: str(v) if names[k] == "str" else v for k, v in values.items()})


@dataclass
class ModelCost:
    """One storage model's restore of `state_bytes`, priced."""
    storage_model: str
    runs: int
    readers_measured: int
    restore_mb_per_s: float           #: median of the model's runs (measured)
    restore_time_s: float             #: state / that rate (extrapolated)
    object_gets: float                #: for the state (measured per GB, scaled)
    object_bytes: float
    cross_zone_bytes: float
    replacement_bytes: float | None   #: what a replaced broker fetched back, scaled; None: no drill
    readers_for_rto: int | None       #: readers that meet the RTO; None: none measured or fitted
    instances_for_rto: int | None
    cost_object_requests: float
    cost_object_bytes: float
    cost_cross_zone: float
    cost_reader_hours: float
    cost_per_restore: float
    cost_replacement: float | None
    headroom_per_month: float | None  #: the RTO's reader instances held ready all month
    basis: str                        #: what was measured and what extrapolated

    def to_row(self) -> dict:
        return dict(self.__dict__)


def restore_costs(runs: list[Run], prices: PriceSheet, state_bytes: float,
                  rto_s: float) -> list[ModelCost]:
    by_model: dict[str, list[Run]] = {}
    for run in runs:
        if runs_mod.per_run(run, "restore_mb_per_s") and not runs_mod.caveat(run, "restore_mb_per_s"):
            by_model.setdefault(storage_model(run), []).append(run)
    return [_model_cost(model, group, prices, state_bytes, rto_s)
            for model, group in sorted(by_model.items())]


def storage_model(run: Run) -> str:
    """local-disk, tiered, tiered-local (a remote tier in a folder: priced apart, since its
    reads are no object calls) or s3 for an embedded cluster; a profile's name; else
    external."""
    cluster = run.manifest.get("cluster", {})
    if str(cluster.get("remote_storage_manager", "")).endswith(".LocalTieredStorage"):
        return "tiered-local"
    return cluster.get("storage") or cluster.get("name") or "external"


def _model_cost(model: str, group: list[Run], prices: PriceSheet, state_bytes: float,
                rto_s: float) -> ModelCost:
    mb_s = statistics.median(runs_mod.per_run(r, "restore_mb_per_s") for r in group)
    readers = max(_readers(r) for r in group)
    restored = sum(_restored_bytes(r) for r in group)
    gets, object_bytes = (sum(x) for x in zip(*(_object_reads(r) for r in group)))
    scale = state_bytes / restored if restored else 0.0
    replaced = [(f["broker_bytes_after"], _restored_bytes(r)) for r in group
                for f in _faults(r) if f.get("action") == "replace" and f.get("broker_bytes_after")]
    replacement = state_bytes * sum(b for b, _ in replaced) / sum(s for _, s in replaced) \
        if replaced else None
    gb = 1e9
    restore_s = state_bytes / 1e6 / mb_s
    readers_rto, how = _readers_for_rto(group, state_bytes, rto_s)
    instances_rto = None if readers_rto is None else \
        math.ceil(readers_rto / prices.readers_per_instance)
    instances_now = math.ceil(readers / prices.readers_per_instance)
    cross = state_bytes * prices.cross_zone_share
    costs = (gets * scale / 1000 * prices.object_get_per_1000,
             object_bytes * scale / gb * prices.object_read_per_gb,
             cross / gb * prices.cross_zone_per_gb,
             instances_now * restore_s / 3600 * prices.instance_hour)
    return ModelCost(
        model, len(group), readers, mb_s, restore_s, gets * scale, object_bytes * scale, cross,
        replacement, readers_rto, instances_rto, *costs, sum(costs),
        None if replacement is None else replacement * prices.cross_zone_share / gb *
        prices.cross_zone_per_gb,
        None if instances_rto is None else
        instances_rto * prices.instance_hour * prices.hours_per_month,
        f"measured: {len(group)} run(s), {restored / 1e6:,.0f} MB restored at {mb_s:,.1f} MB/s "
        f"with {readers} readers; extrapolated: x{scale:,.0f} to the state; readers: {how}")


def _readers_for_rto(group: list[Run], state_bytes: float, rto_s: float) -> tuple[int | None, str]:
    """Readers that meet the RTO on this model, by plan's saturating fit over its runs; with one
    reader count measured, only whether that count meets it (no scaling is assumed)."""
    from replaybench.analysis.plan import MAX_READERS, fit_throughput
    points = [(_readers(r), runs_mod.per_run(r, "restore_mb_per_s")) for r in group]
    counts = {r for r, _ in points}
    if len(counts) < 2:
        (count,) = counts
        rate = statistics.median(v for _, v in points)
        meets = state_bytes / 1e6 / rate <= rto_s
        return (count, f"{count} measured, meets the RTO") if meets else \
            (None, f"{count} measured, misses the RTO; a sweep over storm.readers shows whether "
                   "more would help")
    tmax, k = fit_throughput(np.array([float(r) for r, _ in points]),
                             np.array([v for _, v in points]))
    need = next((r for r in range(1, MAX_READERS + 1)
                 if state_bytes / 1e6 / (tmax * r / (r + k)) <= rto_s), None)
    return need, (f"fitted over {sorted(counts)} (saturating near {tmax:,.0f} MB/s)" +
                  ("" if need else ": the RTO is out of reach with readers alone"))


def _readers(run: Run) -> int:
    spec = run.manifest["workload"]["spec"]
    if spec["storm"].get("engine") == "kafka-streams":
        return spec.get("streams", {}).get("instances", 1)
    return spec["storm"]["readers"]


def _restored_bytes(run: Run) -> int:
    return sum(g["bytes"] for g in runs_mod.headline_groups(run.groups))


def _object_reads(run: Run) -> tuple[int, int]:
    """(GET requests, bytes) the restore read from object storage."""
    cluster = run.manifest.get("cluster", {})
    storm = cluster.get("object_store", {}).get("phases", {}).get("storm")
    if storm:
        return storm.get("get_requests", 0), storm.get("bytes_read", 0)
    remote = cluster.get("remote_tier", {}).get("broker_remote_fetch", {})
    return remote.get("requests", 0), remote.get("bytes", 0)


def _faults(run: Run) -> list[dict]:
    from replaybench.results import store
    try:
        return store.read_table(run.path, "faults").to_pylist()
    except UsageError:
        return []


def render(costs: list[ModelCost], prices: PriceSheet) -> list[str]:
    """Lines for the terminal: one block per storage model."""
    c = prices.currency
    lines = [f"cost ({prices.source}, {prices.date}; {c}):"]
    for m in costs:
        replacement = "" if m.cost_replacement is None else \
            f"; a broker replacement {m.cost_replacement:,.2f} (cross-zone refetch)"
        lines += [f"  {m.storage_model}: one restore {m.cost_per_restore:,.2f} = object GETs "
                  f"{m.cost_object_requests:,.2f} + object bytes {m.cost_object_bytes:,.2f} + "
                  f"cross-zone {m.cost_cross_zone:,.2f} + reader hours {m.cost_reader_hours:,.2f}"
                  f"{replacement}",
                  "    headroom for the RTO: " + (
                      "unknown (no measured reader count meets it)" if m.headroom_per_month is None
                      else f"{m.readers_for_rto} readers on {m.instances_for_rto} instance(s), "
                           f"{m.headroom_per_month:,.2f} per month"),
                  f"    {m.basis}"]
    if not costs:
        lines.append("  no run with a restore the cluster set: nothing to price")
    return lines


def write(costs: list[ModelCost], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "cost.parquet"
    pq.write_table(pa.Table.from_pylist([m.to_row() for m in costs]) if costs else
                   pa.table({"storage_model": pa.array([], pa.string())}), path)
    return path
