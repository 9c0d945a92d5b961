"""The verdicts tell the stalls apart, against a real broker: a frozen broker is interference;
a frozen load generator is `inconclusive: generator-bound` although its corrected histogram
still shows the stall; readers held back by their own fetch queue are `client-bound`."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from replaybench.engine import runner

from tests.engine_helpers import run_smoke, table

pytestmark = pytest.mark.cluster

STALL_S = 1.0
# A restore of ~5 s: each partition fetch brings ~8k records (2 MiB), which fills the fetch
# queue past queued.min.messages, so librdkafka backs off for 1 s after each. The stall then
# falls inside the storm; this is also the client-bound case.
SLOW_RESTORE = ("storm.readers=2", "storm.consumer_config.fetch.queue.backoff.ms=1000",
                "storm.consumer_config.queued.min.messages=1000",
                "storm.consumer_config.max.partition.fetch.bytes=2097152")


class StallInStorm(runner.Display):
    """Once the storm's first tick is in, stop a process for STALL_S (SIGSTOP, then SIGCONT)."""

    def __init__(self, stop, resume) -> None:
        self.stop, self.resume, self.done = stop, resume, threading.Event()

    def tick(self, progress) -> None:
        if progress.phase == "storm" and not self.done.is_set():
            self.done.set()
            threading.Thread(target=self._stall, daemon=True).start()

    def _stall(self) -> None:
        time.sleep(0.2)
        self.stop()
        time.sleep(STALL_S)
        self.resume()


def _overall(run_dir, role: str = "producer", stat: str = "p99") -> dict:
    return next(r for r in table(run_dir, "interference")
                if (r["role"], r["stat"], r["reference"]) == (role, stat, "overall"))


def _storm_max_ns(run_dir, metric: str = "ack_intended") -> int:
    return next(r["max_ns"] for r in table(run_dir, "latency")
                if (r["phase"], r["role"], r["metric"]) == ("storm", "producer", metric))


@pytest.mark.alone
def test_a_frozen_broker_is_interference_and_slow_readers_are_client_bound(
        kafka1, cache_dir, tmp_path, ray_local):
    node = kafka1.nodes[0].node_id
    display = StallInStorm(lambda: kafka1.pause(node), lambda: kafka1.resume(node))
    out = run_smoke(kafka1, cache_dir, tmp_path, "restore-storm", *SLOW_RESTORE, display=display)
    assert out.status == "completed", out.reason
    verdict = _overall(out.run_dir)
    assert verdict["verdict"] == "interference", verdict
    assert _storm_max_ns(out.run_dir) >= 0.9e9
    assert _storm_max_ns(out.run_dir, "sent_intended") < 0.2e9   # the generator kept time
    [group] = table(out.run_dir, "restore_groups")
    assert group["restore_time_ns"] >= 3e9            # the stall fell inside the restore
    assert group["verdict"] == "client-bound" and "fetcher not waiting" in group["verdict_reasons"]
    assert group["fetch_idle_share"] >= 0.4
    assert 0 < group["reader_consume_share"] <= 1 and 0 < group["reader_fold_share"] < 1


@pytest.mark.alone
def test_a_frozen_load_generator_is_inconclusive_not_interference(
        kafka1, cache_dir, tmp_path, ray_local):
    pid = {}

    def stop() -> None:
        pid["producer"] = int(display.progress.placement["producer-0"]["pid"])
        os.kill(pid["producer"], signal.SIGSTOP)

    display = StallInStorm(stop, lambda: os.kill(pid["producer"], signal.SIGCONT))
    remember = display.tick
    display.tick = lambda p: (setattr(display, "progress", p), remember(p))
    out = run_smoke(kafka1, cache_dir, tmp_path, "restore-storm", *SLOW_RESTORE, display=display)
    assert out.status == "completed", out.reason
    verdict = _overall(out.run_dir)
    assert verdict["verdict"] == "inconclusive", verdict
    assert "generator-bound" in verdict["reason"] and "in storm" in verdict["reason"], verdict
    assert _storm_max_ns(out.run_dir) >= 0.9e9          # the corrected histogram keeps the stall
    hiccups = [r for r in table(out.run_dir, "timeseries")
               if r["role"] == "producer" and r["phase"] == "storm"]
    assert max(r["hiccup_max_ns"] or 0 for r in hiccups) >= 0.8e9
