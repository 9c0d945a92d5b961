"""`--metrics-port`: the run's own live figures on http://127.0.0.1:PORT/metrics (the
`prometheus_client` package; OpenMetrics when the scraper asks for it), updated every tick, so
that a nightly run can be watched in the team's Grafana while it runs. A registry of its own:
nothing global, nothing served once the run ends."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from replaybench.clusters.ports import LOOPBACK, require_free
from replaybench.engine.run_state import Progress

#: the tick rows' figures served per role (timeseries.parquet's columns of the same names)
_PER_ROLE = {"records_per_s": "records per second", "bytes_per_s": "bytes per second",
             "lag_records": "readers: offsets left to their targets; consumers: their lag; "
                            "mirror: the copy's end offsets behind the original's",
             "p99_ns": "the role's headline latency p99 over the tick (producer: ack - "
                       "intended, consumer: end-to-end), in ns"}


class LiveMetrics:
    def __init__(self, port: int) -> None:
        """Refuses a port in use in one line (ClusterError), before anything is started."""
        require_free(port, "--metrics-port")
        self.port = port
        self.registry = CollectorRegistry(auto_describe=True)
        self._phase = Gauge("replaybench_phase", "1 for the phase the run is in", ["phase"],
                            registry=self.registry)
        self._elapsed = Gauge("replaybench_elapsed_seconds", "since the run began",
                              registry=self.registry)
        self._restored = Gauge("replaybench_restored_records", "read by every restore group",
                               registry=self.registry)
        self._target = Gauge("replaybench_restore_target_records",
                             "what the restore must read (0: not known yet)",
                             registry=self.registry)
        self._roles = {name: Gauge(f"replaybench_{name}", text, ["role"], registry=self.registry)
                       for name, text in _PER_ROLE.items()}
        self._current = ""
        self._server = None

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> LiveMetrics:
        self._server, _ = start_http_server(self.port, addr=LOOPBACK, registry=self.registry)
        return self

    def update(self, progress: Progress) -> None:
        if progress.phase != self._current:
            if self._current:
                self._phase.labels(self._current).set(0)
            self._current = progress.phase
        self._phase.labels(progress.phase).set(1)
        self._elapsed.set(progress.elapsed_ns / 1e9)
        self._restored.set(progress.restored_records)
        self._target.set(progress.restore_target_records)
        for role, row in progress.latest.items():
            for name, gauge in self._roles.items():
                if row.get(name) is not None:
                    gauge.labels(role).set(row[name])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> LiveMetrics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ticking(show: Callable[[Progress], None],
            live: LiveMetrics | None) -> Callable[[Progress], None]:
    """Each tick's Progress to `show` (the console) and, with --metrics-port, to `live`."""
    if live is None:
        return show

    def both(progress: Progress) -> None:
        show(progress)
        live.update(progress)
    return both
