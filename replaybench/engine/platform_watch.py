"""`--monitor`: a real Prometheus scrapes the platform's own metrics endpoints for the length of
the run; once the run is measured, the harness asks it for the run's window (the queries in
platform_queries.yaml), keeps the series in the record (platform_metrics.parquet) and judges
whether the platform's monitoring showed the restore and each fault (verdicts/observability.py).
`--prometheus URL`: the same, asked of a team's own Prometheus with the queries of the team's
own file, for a platform the harness cannot scrape itself (an external cluster).

Nothing measured is lost if Prometheus fails: the series are missing and the checks say why."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path

import psutil
import yaml

from replaybench.clusters.lag_exporter import LagExporter
from replaybench.clusters.platform import ClusterHandle
from replaybench.clusters.prometheus_api import PrometheusApi
from replaybench.clusters.prometheus_server import PrometheusServer, prometheus_binary
from replaybench.errors import ReplaybenchError, UsageError
from replaybench.kafka.client_config import redact
from replaybench.results.run_record import RunRecord
from replaybench.strict_yaml import read_mapping
from replaybench.verdicts import observability

# 2 s: a broker answering a scrape while a restore saturates the machine took 0.5-2.5 s on 2
# cores (a 1 s scrape timed out and read as the broker down)
SCRAPE_INTERVAL_S = 2.0
STEP_S = 1.0   #: one point a second, the harness's own tick
REACH_TIMEOUT_S = 5.0   #: a team's Prometheus must say it is ready within this
LAG_EXPORTER = observability.LAG_EXPORTER   #: the server name its series carry
_QUERY_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]{0,199}")   #: as Prometheus's metric names


def check_available() -> None:
    """Before anything starts: the Prometheus binary is there (one line saying how, if not)."""
    prometheus_binary()


def queries() -> dict[str, str]:
    text = (resources.files("replaybench.engine") / "platform_queries.yaml").read_text()
    return yaml.safe_load(text)


def alert_rules() -> str:
    """The rule file the run's own Prometheus evaluates (alert_rules.yaml)."""
    return (resources.files("replaybench.engine") / "alert_rules.yaml").read_text()


class PlatformWatch:
    """Asks a Prometheus (the run's own, or a team's) for the run's window, and judges it."""

    def __init__(self, api: PrometheusApi, queries: dict[str, str], described: dict,
                 watchers: dict[str, int] | None = None,
                 server: PrometheusServer | None = None) -> None:
        """described: for the manifest, where the series come from; watchers: the processes
        the harness started to watch (name -> pid), whose CPU is what watching cost; server:
        the run's own Prometheus, which servers the run starts later are added to (None: a
        team's, which scrapes what the team tells it)."""
        self.api, self.queries, self.described = api, queries, described
        self.watchers, self.server = watchers or {}, server

    def describe(self) -> dict:
        """For the manifest: which Prometheus, what it was asked (a query named like a secret
        is not written out), and the CPU seconds its watchers had used so far."""
        cost = {"watchers_cpu_s": {name: cpu_seconds(pid)
                                   for name, pid in self.watchers.items()}} \
            if self.watchers else {}
        scraped = {"targets": dict(self.server.scraped)} if self.server else {}
        return {**self.described, **scraped, "queries": redact(self.queries), **cost}

    def collect(self, record: RunRecord) -> None:
        """The run's window into record.platform_metrics, then the checks into
        record.observability; a Prometheus that fails leaves no series and one unjudged
        check saying why."""
        end = record.ended_ns or record.started_ns
        try:
            series = {name: self.api.query_range(expr, record.started_ns, end, STEP_S)
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
            record.faults, record.ended_ns, ticks=record.timeseries,
            asked=self.queries, events=record.events)


def _phase_at(record: RunRecord, t_ns: int) -> str:
    for phase, (start, end) in record.phase_bounds.items():
        if start <= t_ns and (t_ns <= end or not end):
            return phase
    return ""


@contextmanager
def watching(cluster: ClusterHandle, lag_config: dict[str, str],
             harness: dict[str, str]) -> Iterator[PlatformWatch]:
    """Prometheus for the length of the `with`, scraping `cluster`'s servers and a lag
    exporter asking it with `lag_config`; `harness`: replaybench's own endpoint, scraped beside
    the platform's (--metrics-port)."""
    with watching_servers({**served(cluster), **harness}, {LAG_EXPORTER: lag_config}) as watch:
        yield watch


def served(cluster: ClusterHandle, prefix: str = "") -> dict[str, str]:
    """The cluster's servers that serve metrics: name (after `prefix`) -> host:port."""
    endpoints = cluster.capabilities.metrics_endpoints
    if endpoints is None:
        raise UsageError("--monitor: this cluster serves no metrics endpoint the harness "
                         "knows of (an external cluster: point a Prometheus of your own at it)")
    return {f"{prefix}{name}": address for name, address in endpoints().items()}


@contextmanager
def watching_servers(targets: dict[str, str],
                     lag_exporters: dict[str, dict]) -> Iterator[PlatformWatch]:
    """Prometheus scraping `targets` (server name -> host:port) and a lag exporter per entry of
    `lag_exporters` (server name -> the client config it asks the cluster with) for the length
    of the `with`, in a temp dir of its own (removed after)."""
    root = Path(tempfile.mkdtemp(prefix="rb-prometheus-"))
    try:
        with ExitStack() as stack:
            exporters = {name: stack.enter_context(LagExporter(root / name, config))
                         for name, config in lag_exporters.items()}
            yield stack.enter_context(_prometheus(
                root, {**targets, **{name: e.endpoint for name, e in exporters.items()}},
                {name: e.process.pid for name, e in exporters.items()}))
    finally:
        shutil.rmtree(root, ignore_errors=True)   # the temp dir made just above


@contextmanager
def _prometheus(root: Path, targets: dict[str, str],
                watchers: dict[str, int]) -> Iterator[PlatformWatch]:
    with PrometheusServer(root, targets, SCRAPE_INTERVAL_S, alert_rules()).start() as prometheus:
        yield PlatformWatch(prometheus.api, queries(), {
            "prometheus": prometheus.url, "scrape_interval_s": SCRAPE_INTERVAL_S,
            "alert_rules": "alert_rules.yaml"},
            {"prometheus": prometheus.process.pid, **watchers}, prometheus)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its children, those still running and those
    it has reaped (the lag exporter's workers that died and were started again); None: it is
    gone."""
    try:
        process = psutil.Process(pid)
        own = process.cpu_times()
        running = sum(sum(p.cpu_times()[:2]) for p in process.children(True))
        return round(own.user + own.system + own.children_user + own.children_system + running, 2)
    except psutil.Error:
        return None


def existing(url: str, queries_file: Path) -> PlatformWatch:
    """`--prometheus URL`: a team's own Prometheus, asked the queries of the team's own file.
    Checked before anything starts: the file reads as queries, and the server answers."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--prometheus {url!r}: expected an http:// or https:// URL")
    asked = load_queries(queries_file)
    api = PrometheusApi(url)
    if not api.ready(REACH_TIMEOUT_S):
        raise UsageError(f"--prometheus {url}: not ready (GET /-/ready did not answer 200 "
                         f"within {REACH_TIMEOUT_S:g} s)")
    return PlatformWatch(api, asked, {"prometheus": api.url, "owner": "team",
                                      "queries_file": str(queries_file)})


def load_queries(path: Path) -> dict[str, str]:
    """A team's query file: `name: PromQL` lines. The names the checks read are those of
    platform_queries.yaml (bytes_out_per_s, up, under_replicated_partitions, with a `server`
    label); any other name is stored beside them. One line naming the file and the key if
    it is not that; the file's content is never quoted."""
    where = f"--prometheus-queries {path}"
    asked = read_mapping(path, "the queries", UsageError)
    if not asked:
        raise UsageError(f"{where}: no queries (expected `name: PromQL` lines)")
    for name, expr in asked.items():
        if not isinstance(name, str) or not _QUERY_NAME.fullmatch(name):
            # a file given by mistake (a client config with passwords): its keys, not shown
            raise UsageError(f"{where}: a key that is not a query name (letters, digits, _ "
                             "and : as Prometheus's own names; not shown): is this the right "
                             "file?")
        if not isinstance(expr, str) or not expr.strip():
            raise UsageError(f"{where}: {name}: expected a PromQL expression (text)")
    return asked
