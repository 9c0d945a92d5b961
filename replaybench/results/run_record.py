"""Everything one run measured, kept in memory as it happens so that a failed or interrupted run
can still write it out (results.py turns it into Parquet)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replaybench.format.histograms import LatencyHistogram, sparse_counts
from replaybench.meters.snapshots import Accumulator, Snapshot

# Each role's headline latency, used for the per-second time series and the summary.
PRIMARY_METRIC = {"producer": "ack_intended", "consumer": "e2e"}


@dataclass
class RunRecord:
    run_id: str
    started_ns: int
    ended_ns: int = 0
    status: str = "running"        #: running, completed, failed, aborted
    reason: str = ""
    phase: str = "setup"
    #: the rows of timeseries.parquet: per tick, one per role, the harness and each server
    timeseries: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[tuple[str, str], Accumulator] = field(default_factory=dict)
    phase_bounds: dict[str, list[int]] = field(default_factory=dict)  #: phase -> [start, end] ns
    events: list[dict[str, Any]] = field(default_factory=list)
    partitions: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    verification: list[dict[str, Any]] = field(default_factory=list)
    placement: dict[str, dict[str, str]] = field(default_factory=dict)
    #: where the actors were meant to run: policy, and per Ray node its labels and actors
    placement_plan: dict = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    #: a migration run: the rows of migration.parquet (per step and partition) and its verdict
    migration: list[dict[str, Any]] = field(default_factory=list)
    migration_verdict: dict[str, Any] = field(default_factory=dict)
    #: the team's own mirrored topics and groups, judged from content (mirror_content.parquet)
    mirror_content: list[dict[str, Any]] = field(default_factory=list)
    #: --monitor: the platform's own series from Prometheus (platform_metrics.parquet) and
    #: whether they showed the restore and each fault (observability.parquet)
    platform_metrics: list[dict[str, Any]] = field(default_factory=list)
    observability: list[dict[str, Any]] = field(default_factory=list)
    #: (phase, role) -> the role's headline latency per tick, as (bucket indices, counts): what
    #: the interference judge bootstraps over
    latency_ticks: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = \
        field(default_factory=dict)

    def event(self, t_ns: int, kind: str, actor: str = "", **detail: Any) -> None:
        self.events.append({"t_ns": t_ns, "elapsed_ns": t_ns - self.started_ns, "kind": kind,
                            "phase": self.phase, "actor": actor,
                            "detail": json.dumps(detail, sort_keys=True, default=str)})

    def enter(self, phase: str, t_ns: int) -> None:
        if self.phase in self.phase_bounds:
            self.phase_bounds[self.phase][1] = t_ns
            self.event(t_ns, "phase_end")
        self.phase = phase
        self.phase_bounds[phase] = [t_ns, 0]
        self.event(t_ns, "phase_start")

    def add_interval(self, tick: int, start_ns: int, snapshots: list[Snapshot],
                     host: dict | None = None) -> None:
        """One interval of every actor: summed per role into the phase, one time-series row per
        role; then the harness's own row (every actor's CPU and hiccups, and `host`: the host's
        idle share and the servers' CPU, from self_noise.HostSampler) and one per server."""
        by_role: dict[str, Snapshot] = {}
        for snap in snapshots:
            self.phases.setdefault((self.phase, snap.role), Accumulator()).add(snap)
            by_role[snap.role] = by_role[snap.role].merge(snap) if snap.role in by_role else snap
        for role, snap in sorted(by_role.items()):
            self.timeseries.append(self._row(tick, start_ns, role, snap,
                                        sum(s.role == role for s in snapshots)))
        if snapshots:
            self._harness_rows(tick, start_ns, snapshots, host or {})

    def _harness_rows(self, tick: int, start_ns: int, snapshots: list[Snapshot],
                      host: dict) -> None:
        blobs = [s.histograms["hiccup"] for s in snapshots if "hiccup" in s.histograms]
        merged = Snapshot("harness", "*", max(s.t_ns for s in snapshots),
                          {"cpu_ns": sum(s.counters.get("cpu_ns", 0) for s in snapshots)
                           + host.get("driver_cpu_ns", 0)}, {},
                          {"hiccup": _merge_all(blobs)} if blobs else {})
        self.phases.setdefault((self.phase, "harness"), Accumulator()).add(merged)
        row = self._row(tick, start_ns, "harness", merged, len(snapshots))
        row.update(host_idle_share=host.get("host_idle_share"),
                   host_steal_share=host.get("host_steal_share"))
        self.timeseries.append(row)
        for name, cpu_ns in sorted(host.get("servers", {}).items()):
            self.timeseries.append({"tick": tick, "t_ns": merged.t_ns,
                               "elapsed_ns": merged.t_ns - self.started_ns,
                               "interval_ns": merged.t_ns - start_ns, "phase": self.phase,
                               "role": "server", "server": name, "actors": 0, "records": 0,
                               "bytes": 0, "cpu_ns": cpu_ns})

    def add_to(self, phase: str, snapshots: list[Snapshot]) -> None:
        """Also count these snapshots under another name (a fault's window)."""
        for snap in snapshots:
            self.phases.setdefault((phase, snap.role), Accumulator()).add(snap)

    def cluster_sample(self, t_ns: int, under_replicated: int) -> None:
        """A time-series row for the cluster itself."""
        tick = self.timeseries[-1]["tick"] if self.timeseries else 0
        self.timeseries.append({"tick": tick, "t_ns": t_ns, "elapsed_ns": t_ns - self.started_ns,
                           "interval_ns": 0, "phase": self.phase, "role": "cluster", "actors": 0,
                           "records": 0, "bytes": 0, "under_replicated_partitions": under_replicated})

    def latency(self, phase: str, role: str, metric: str | None = None) -> LatencyHistogram:
        """A phase's histogram for a role (empty if none was recorded)."""
        acc = self.phases.get((phase, role))
        name = metric or PRIMARY_METRIC.get(role, "")
        return acc.histograms.get(name, LatencyHistogram()) if acc else LatencyHistogram()

    def _row(self, tick: int, start_ns: int, role: str, snap: Snapshot, actors: int) -> dict:
        seconds = max(snap.t_ns - start_ns, 1) / 1e9
        records, size = snap.counters.get("records", snap.counters.get("acked", 0)), \
            snap.counters.get("bytes", 0)
        metric = PRIMARY_METRIC.get(role)
        blob = snap.histograms.get(metric) if metric else None
        hist = LatencyHistogram.from_blob(blob) if blob else LatencyHistogram()
        if metric:
            self.latency_ticks.setdefault((self.phase, role), []).append(sparse_counts(hist))
        lat = hist.summary()
        hiccup = snap.histograms.get("hiccup")
        hic = LatencyHistogram.from_blob(hiccup) if hiccup else LatencyHistogram()
        g = snap.gauges
        return {"tick": tick, "t_ns": snap.t_ns, "elapsed_ns": snap.t_ns - self.started_ns,
                "interval_ns": snap.t_ns - start_ns, "phase": self.phase, "role": role,
                "actors": actors, "records": records, "bytes": size,
                "records_per_s": records / seconds, "bytes_per_s": size / seconds,
                "lag_records": int(g.get("lag_records", g.get("client_lag_records", 0))),
                "fetch_queue_records": int(g.get("fetchq_msgs", 0)),
                "producer_queue_records": int(g.get("queue_msgs", 0)),
                "rtt_p99_us": int(g.get("rtt_p99_us_max", 0)),
                "latency_metric": metric or "", "latency_count": lat["count"],
                "p50_ns": lat["p50_ns"], "p99_ns": lat["p99_ns"], "p99_9_ns": lat["p99_9_ns"],
                "max_ns": lat["max_ns"], "cpu_ns": snap.counters.get("cpu_ns"),
                "hiccup_p99_ns": hic.percentile(99.0) if hic.count else None,
                "hiccup_max_ns": hic.hist.get_max_value() if hic.count else None}


def _merge_all(blobs: list[bytes]) -> bytes:
    total = LatencyHistogram()
    for blob in blobs:
        total.add(LatencyHistogram.from_blob(blob))
    return total.to_blob()
