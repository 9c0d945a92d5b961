"""`--monitor`: a real Prometheus scrapes the platform's own metrics endpoints for the length of
the run; once the run is measured, the harness asks it for the run's window (the queries in
platform_queries.yaml), keeps the series in the record (platform_metrics.parquet) and judges
whether the platform's monitoring showed the restore and each fault (verdicts/observability.py).

Nothing measured is lost if Prometheus fails: the series are missing and the checks say why."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import yaml

from replaybench.clusters.platform import ClusterHandle
from replaybench.clusters.prometheus_server import PrometheusServer, prometheus_binary
from replaybench.errors import ReplaybenchError, UsageError
from replaybench.results.run_record import RunRecord
from replaybench.verdicts import observability

# 2 s: a broker answering a scrape while a restore saturates the machine took 0.5-2.5 s on 2
# cores (a 1 s scrape timed out and read as the broker down)
SCRAPE_INTERVAL_S = 2.0
STEP_S = 1.0   #: one point a second, the harness's own tick


def check_available() -> None:
    """Before anything starts: the Prometheus binary is there (one line saying how, if not)."""
    prometheus_binary()


def queries() -> dict[str, str]:
    text = (resources.files("replaybench.engine") / "platform_queries.yaml").read_text()
    return yaml.safe_load(text)


class PlatformWatch:
    def __init__(self, prometheus: PrometheusServer) -> None:
        self.prometheus = prometheus
        self.queries = queries()

    def describe(self) -> dict:
        """For the manifest: where it scraped, how often, and what it asked."""
        return {"prometheus": self.prometheus.url, "scrape_interval_s": SCRAPE_INTERVAL_S,
                "targets": dict(self.prometheus.targets), "queries": self.queries}

    def collect(self, record: RunRecord) -> None:
        """The run's window into record.platform_metrics, then the checks into
        record.observability; a Prometheus that fails leaves no series and one unjudged
        check saying why."""
        end = record.ended_ns or record.started_ns
        try:
            series = {name: self.prometheus.query_range(expr, record.started_ns, end, STEP_S)
                      for name, expr in self.queries.items()}
        except (ReplaybenchError, ValueError, KeyError) as exc:
            # whatever Prometheus answered, the run's own measurements are still written
            record.observability = [{"check": "platform metrics", "subject": "prometheus",
                                     "passed": None, "reason": f"Prometheus: {exc}"}]
            return
        record.platform_metrics = [
            {"metric": name, "server": s.labels.get("server", ""),
             "labels": json.dumps({k: v for k, v in s.labels.items() if k != "server"},
                                  sort_keys=True),
             "t_ns": t, "elapsed_ns": t - record.started_ns, "phase": _phase_at(record, t),
             "value": v}
            for name, found in series.items() for s in found for t, v in s.points]
        record.observability = observability.judge_run(
            record.platform_metrics, {p: (b[0], b[1]) for p, b in record.phase_bounds.items()},
            record.faults, record.ended_ns)


def _phase_at(record: RunRecord, t_ns: int) -> str:
    for phase, (start, end) in record.phase_bounds.items():
        if start <= t_ns and (t_ns <= end or not end):
            return phase
    return ""


@contextmanager
def watching(cluster: ClusterHandle, harness: dict[str, str]) -> Iterator[PlatformWatch]:
    """Prometheus for the length of the `with`, in a temp dir of its own (removed after);
    `harness`: replaybench's own endpoint, scraped beside the platform's (--metrics-port)."""
    endpoints = cluster.capabilities.metrics_endpoints
    if endpoints is None:
        raise UsageError("--monitor: this cluster serves no metrics endpoint the harness "
                         "knows of (an external cluster: point a Prometheus of your own at it)")
    root = Path(tempfile.mkdtemp(prefix="rb-prometheus-"))
    try:
        with PrometheusServer(root, {**endpoints(), **harness},
                              SCRAPE_INTERVAL_S).start() as prometheus:
            yield PlatformWatch(prometheus)
    finally:
        shutil.rmtree(root, ignore_errors=True)   # the temp dir made just above
