"""Capacity plan from measured runs: restore throughput against readers (saturating), live
latency against restore throughput (linear), and what a given state size and recovery-time
objective then need. States the measured range and warns when asked to go far beyond it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from replaybench.errors import UsageError
from replaybench.results import runs as runs_mod
from replaybench.results.runs import Run

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10,
          "mib": 2**20, "gib": 2**30, "tib": 2**40}
_TIME = {"s": 1, "m": 60, "min": 60, "h": 3600}
MAX_READERS = 4096


class PlanError(UsageError):
    """Plan inputs that cannot be used."""


def parse_size(text: str, what: str = "--state-size") -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*", text, re.IGNORECASE)
    if not m:
        raise PlanError(f"{what} {text!r}: expected a size such as 2TiB, 500GB or 1e9")
    return float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]


def parse_rate(text: str) -> float:
    """Bytes per second from e.g. 200MB/s."""
    return parse_size(re.sub(r"/s\s*$", "", text.strip()), "--live-rate")


def parse_duration(text: str, what: str = "--rto") -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*", text)
    if not m:
        raise PlanError(f"{what} {text!r}: expected a duration such as 15m, 900s or 1h")
    return float(m.group(1)) * _TIME[m.group(2) or "s"]


@dataclass
class Plan:
    state_bytes: float
    rto_s: float
    readers: int | None              #: None: the RTO is out of reach on this model
    restore_mb_per_s: float
    restore_time_s: float
    headroom_s: float                #: rto - restore time (negative: misses the RTO)
    live_p99_ms: float | None
    live_p99_9_ms: float | None
    measured_readers: list[int] = field(default_factory=list)
    measured_mb_per_s: list[float] = field(default_factory=list)
    saturation_mb_per_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    readers_per_node: int = 4
    reader_nodes: int | None = None      #: machines for `readers` (Ray nodes running readers)
    measured_nodes: int = 1              #: the most Ray nodes a measured run spread over


def fit_throughput(readers: np.ndarray, mb_s: np.ndarray) -> tuple[float, float]:
    """T(r) = tmax * r / (r + k), least squares over k on a log grid (tmax in closed form)."""
    best = (float(mb_s.max()), 1e-9, np.inf)
    for k in np.logspace(-3, 3, 400):
        shape = readers / (readers + k)
        tmax = float(shape @ mb_s / (shape @ shape))
        err = float(((tmax * shape - mb_s) ** 2).sum())
        if err < best[2]:
            best = (tmax, float(k), err)
    return best[0], best[1]


def make_plan(runs: list[Run], state_bytes: float, rto_s: float,
              live_rate: float | None = None, readers_per_node: int = 4) -> Plan:
    """readers_per_node: restore readers one reader machine (Ray node) runs."""
    points = [(r.manifest["workload"]["spec"]["storm"]["readers"],
               runs_mod.per_run(r, "restore_mb_per_s"), runs_mod.per_run(r, "storm.produce.p99"),
               runs_mod.per_run(r, "storm.produce.p99.9"), r) for r in runs]
    points = [p for p in points if p[1]]
    bound = [p for p in points if runs_mod.caveat(p[4], "restore_mb_per_s")]
    points = [p for p in points if p not in bound]
    if not points:
        why = f" ({len(bound)} set by the harness instead: " \
              f"{runs_mod.caveat(bound[0][4], 'restore_mb_per_s')})" if bound else ""
        raise PlanError(f"no run in these results finished a restore the cluster set{why}; "
                        "plan needs measured restores")
    points = [(*p[:2], *(None if runs_mod.caveat(p[4], m) else v
                         for m, v in (("storm.produce.p99", p[2]), ("storm.produce.p99.9", p[3]))),
               p[4]) for p in points]
    readers = np.array([p[0] for p in points], float)
    mb_s = np.array([p[1] for p in points], float)
    warnings = []
    if len(set(readers)) < 2:
        warnings.append(f"all runs used {int(readers[0])} readers: throughput is assumed flat in "
                        "readers (run a sweep over storm.readers to measure scaling)")
        tmax, k = float(mb_s.mean()), 1e-9
    else:
        tmax, k = fit_throughput(readers, mb_s)

    def throughput(r: int) -> float:
        return tmax * r / (r + k)

    need = next((r for r in range(1, MAX_READERS + 1)
                 if state_bytes / 1e6 / throughput(r) <= rto_s), None)
    chosen = need or MAX_READERS
    t = throughput(chosen)
    restore_s = state_bytes / 1e6 / t
    p99, p999 = _latency_at(points, t)
    plan = Plan(state_bytes, rto_s, need, t, restore_s, rto_s - restore_s, p99, p999,
                sorted({int(r) for r in readers}), [round(float(x), 1) for x in mb_s], tmax,
                warnings)
    plan.readers_per_node = readers_per_node
    plan.reader_nodes = -(-need // readers_per_node) if need else None
    plan.measured_nodes = max(int(r.manifest.get("ray", {}).get("ray_nodes") or 1)
                              for *_, r in points)
    _warn_extrapolation(plan, points, live_rate)
    if bound:
        plan.warnings.append(f"left out {len(bound)} run(s) whose restore the harness set "
                             f"(host- or client-bound), e.g. {bound[0][4].path.name}: "
                             f"{runs_mod.caveat(bound[0][4], 'restore_mb_per_s')}")
    return plan


def _latency_at(points: list, t: float) -> tuple[float | None, float | None]:
    out = []
    for col in (2, 3):
        xy = [(p[1], p[col]) for p in points if p[col] is not None]
        if len(xy) >= 2 and len({x for x, _ in xy}) >= 2:
            slope, intercept = np.polyfit([x for x, _ in xy], [y for _, y in xy], 1)
            out.append(max(float(intercept + slope * t), 0.0))
        else:
            out.append(float(np.mean([y for _, y in xy])) if xy else None)
    return out[0], out[1]


def _warn_extrapolation(plan: Plan, points: list, live_rate: float | None) -> None:
    most = max(plan.measured_readers)
    if plan.readers is None:
        plan.warnings.append(f"the RTO is out of reach: throughput saturates near "
                             f"{plan.saturation_mb_per_s:.0f} MB/s on the measured cluster; "
                             "a bigger cluster is needed, not more readers")
    elif plan.readers > 2 * most:
        plan.warnings.append(f"extrapolating: {plan.readers} readers is more than twice the "
                             f"most measured ({most})")
    if plan.reader_nodes and plan.reader_nodes > plan.measured_nodes:
        plan.warnings.append(f"extrapolating: {plan.reader_nodes} reader nodes, the runs used at "
                             f"most {plan.measured_nodes}; the fit assumes the cluster, not the "
                             "readers' machines, sets the saturation")
    restored = max(r.groups[0]["bytes"] for *_, r in points if r.groups)
    if plan.state_bytes > 100 * restored:
        plan.warnings.append(f"extrapolating: the state is {plan.state_bytes / restored:,.0f}x the "
                             f"largest restore measured ({restored / 1e6:,.0f} MB)")
    if live_rate is not None:
        live = points[-1][4].manifest["workload"]["spec"]["live"]
        measured = live["producers"] * live["rate_per_s"] * live["value_bytes"]
        if measured and not 0.5 <= live_rate / measured <= 2:
            plan.warnings.append(f"the latency model was measured at {measured / 1e6:.2f} MB/s of "
                                 f"live traffic, not {live_rate / 1e6:.2f} MB/s")


def write(plan: Plan, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    row = {k: (", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in asdict(plan).items()}
    table = pa.Table.from_pylist([row])
    parquet, csv = out_dir / "plan.parquet", out_dir / "plan.csv"
    pq.write_table(table, parquet)
    pacsv.write_csv(table, csv)
    return parquet, csv
