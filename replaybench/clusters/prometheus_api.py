"""Prometheus's HTTP API, as the harness asks it: whether it is ready, and a range query. The same
for the server a run starts (prometheus_server.py) and a team's own (`--prometheus URL`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from replaybench.errors import ClusterError

QUERY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its (wall-clock ns, value) points."""
    labels: dict[str, str]
    points: list[tuple[int, float]]


class PrometheusApi:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def ready(self, timeout_s: float = 1.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=timeout_s) as reply:
                return reply.status == 200
        except (OSError, ValueError):
            return False

    def query_range(self, expr: str, start_ns: int, end_ns: int, step_s: float) -> list[Series]:
        """`expr` over [start, end] every `step_s`: what /api/v1/query_range says."""
        params = urllib.parse.urlencode({"query": expr, "start": f"{start_ns / 1e9:.3f}",
                                         "end": f"{end_ns / 1e9:.3f}", "step": f"{step_s:g}"})
        body = self._get(f"/api/v1/query_range?{params}")
        return [Series(dict(r["metric"]), [(round(float(t) * 1e9), float(v))
                                           for t, v in r["values"]])
                for r in body["data"]["result"]]

    def alerts(self) -> list[dict]:
        """The alerts pending or firing now (/api/v1/alerts): labels, state, activeAt."""
        return self._get("/api/v1/alerts")["data"]["alerts"]

    def _get(self, path: str) -> dict:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=QUERY_TIMEOUT_S) as reply:
                body = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            raise ClusterError(f"Prometheus refused {path.split('?')[0]}: {detail}") from None
        except OSError as exc:
            raise ClusterError(f"Prometheus at {self.url} did not answer: {exc}") from None
        if body.get("status") != "success":
            raise ClusterError(f"Prometheus: {body.get('error', body)}")
        return body
