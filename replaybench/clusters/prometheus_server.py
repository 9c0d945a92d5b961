"""A real Prometheus server (Debian's `prometheus` package) started for one run: it scrapes the
platform's own metrics endpoints on 127.0.0.1 and answers the harness's queries over its HTTP
API (prometheus_api.py) once the run is measured. Stopped by pid.

Its targets are a file it watches (file-based service discovery, as teams register servers
that come and go): a server the run starts late (a mirror) is scraped from its start, and one
the run stops by design (a mirror after the cutover) leaves the file rather than show as down.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import yaml

from replaybench.clusters import health
from replaybench.clusters.ports import free_ports
from replaybench.clusters.processes import ServerProcess, tail
from replaybench.clusters.prometheus_api import PrometheusApi
from replaybench.errors import ClusterError, UsageError

INSTALL_HINT = "apt-get install prometheus (Debian's package; .ci/run installs it)"


def prometheus_binary() -> Path:
    """Debian installs it on PATH; a missing one is one line saying how to get it."""
    found = shutil.which("prometheus")
    if not found:
        raise UsageError(f"--monitor needs a Prometheus server: {INSTALL_HINT}")
    return Path(found)


class PrometheusServer:
    """Scrapes `targets` (server name -> host:port serving /metrics) every `interval_s`, and
    evaluates `alert_rules` (the text of a Prometheus rule file) as often; `scrape` and
    `unscrape` add and remove a target while it runs."""

    def __init__(self, root: Path, targets: dict[str, str], interval_s: float = 1.0,
                 alert_rules: str = "") -> None:
        self.root = Path(root).resolve()
        self.targets = dict(targets)   #: scraped now
        self.scraped = dict(targets)   #: every target it was given: what the manifest lists
        self.interval_s, self.alert_rules = interval_s, alert_rules
        self.port = free_ports(1)[0]
        self.api = PrometheusApi(self.url)   #: what the harness asks it, once it is ready
        self.process: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> PrometheusServer:
        binary = prometheus_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "prometheus.yml"
        if self.alert_rules:
            (self.root / "alert_rules.yml").write_text(self.alert_rules)
        config.write_text(yaml.safe_dump(self._config(), sort_keys=False))
        self._write_targets()
        # the argv names self.root (the config and the data live there): the pid's marker
        self.process = ServerProcess.spawn(
            [str(binary), f"--config.file={config}", f"--storage.tsdb.path={self.root / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1d",
             "--log.level=warn"], str(self.root), self.root / "prometheus.log", self.root)

        def alive() -> None:
            if not self.process.alive():
                raise ClusterError(f"Prometheus exited at start: "
                                   f"{tail(self.root / 'prometheus.log', 1).strip()}")
        try:
            health.wait_until(self._ready, timeout_s, f"Prometheus to answer on {self.url}", alive)
        except ClusterError:
            self.stop()
            raise
        return self

    def _config(self) -> dict:
        seconds = f"{self.interval_s:g}s"
        return {"global": {"scrape_interval": seconds, "evaluation_interval": seconds,
                           "scrape_timeout": seconds},
                "rule_files": [str(self.root / "alert_rules.yml")] if self.alert_rules else [],
                "scrape_configs": [{"job_name": "platform", "file_sd_configs": [
                    # watched for changes; the refresh is a fallback
                    {"files": [str(self._targets_file)], "refresh_interval": seconds}]}]}

    @property
    def _targets_file(self) -> Path:
        return self.root / "targets.json"

    def scrape(self, name: str, address: str) -> None:
        """Scrape `address` (host:port) as server `name` from now on."""
        self.targets[name] = self.scraped[name] = address
        self._write_targets()

    def unscrape(self, name: str) -> None:
        """Stop scraping server `name` (stopped by design: its absence is not an outage)."""
        self.targets.pop(name, None)
        self._write_targets()

    def _write_targets(self) -> None:
        groups = [{"targets": [address], "labels": {"server": name}}
                  for name, address in sorted(self.targets.items())]
        part = self._targets_file.with_suffix(".part")
        part.write_text(json.dumps(groups))
        os.replace(part, self._targets_file)   # whole or not at all, as Prometheus reads it

    def _ready(self) -> bool:
        return self.api.ready()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=10.0)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
