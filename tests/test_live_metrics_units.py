"""replaybench's own /metrics, scraped over HTTP as a Prometheus would (no broker: the progress
is written here; a real run serving it is in test_monitoring_real.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from replaybench.clusters.ports import free_ports, require_free
from replaybench.engine.live_metrics import LiveMetrics
from replaybench.engine.run_state import Progress


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_each_tick_is_served_and_the_phase_moves():
    port = free_ports(1)[0]
    with LiveMetrics(port) as live:
        live.update(Progress("baseline", 0, 5_000_000_000, 0, 0,
                             {"producer": {"records_per_s": 2000.0, "p99_ns": 9e6,
                                           "lag_records": 0}}))
        live.update(Progress("storm", 6_000_000_000, 7_500_000_000, 150_000, 300_000,
                             {"reader": {"records_per_s": 1e5, "bytes_per_s": 2e7,
                                         "lag_records": 150_000}}))
        got = _scrape(port)
    assert got[("replaybench_phase", (("phase", "storm"),))] == 1
    assert got[("replaybench_phase", (("phase", "baseline"),))] == 0
    assert got[("replaybench_elapsed_seconds", ())] == 7.5
    assert got[("replaybench_restored_records", ())] == 150_000
    assert got[("replaybench_restore_target_records", ())] == 300_000
    assert got[("replaybench_lag_records", (("role", "reader"),))] == 150_000
    assert got[("replaybench_p99_ns", (("role", "producer"),))] == 9e6
    require_free(port, "after the run")   # stopped with the run: the port is free again


def test_a_port_in_use_is_one_line_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "replaybench", "run", "--metrics-port",
                              str(port), "--results", str(tmp_path)],
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert f"port 127.0.0.1:{port} (--metrics-port) is already in use" in run.stderr
    assert not list(tmp_path.iterdir())


def test_a_migrations_two_mirrors_are_served_each_under_its_name():
    """A tick's rows, as a migration writes them (role mirror, one per flow), into the
    progress the console and /metrics read: the forward and the reverse mirror apart."""
    from types import SimpleNamespace

    from replaybench.engine.run_state import RunState
    rows = [{"tick": 3, "role": "producer", "records_per_s": 300.0, "elapsed_ns": 9},
            {"tick": 3, "role": "mirror", "mirror": "forward", "lag_records": 120,
             "elapsed_ns": 9},
            {"tick": 3, "role": "mirror", "mirror": "reverse", "lag_records": 7,
             "elapsed_ns": 9}]
    state = SimpleNamespace(record=SimpleNamespace(timeseries=rows, phase="trial",
                                                   phase_bounds={}, started_ns=0, placement={}),
                            targets={}, groups=[])
    progress = RunState.progress(state)
    assert set(progress.latest) == {"producer", "mirror-forward", "mirror-reverse"}
    port = free_ports(1)[0]
    with LiveMetrics(port) as live:
        live.update(progress)
        got = _scrape(port)
    assert got[("replaybench_lag_records", (("role", "mirror-forward"),))] == 120
    assert got[("replaybench_lag_records", (("role", "mirror-reverse"),))] == 7
