"""The harness's own noise, measured beside every figure: how late its processes wake up
(hiccups), how much CPU they and the brokers burn, and how idle the host was.

A latency is judged against these: when the load generator itself wakes late, the latency it
reports is its own, not the cluster's (verdicts.py).
"""

from __future__ import annotations

import threading
import time

import psutil

from replaybench.histograms import LatencyHistogram

# 5 ms between wake-ups: jHiccup's 1 ms costs a Python thread ~1 % CPU; at 5 ms the meter stays
# under 0.2 % of a core (benchmarks/test_bench_self_noise.py) and still resolves any stall that
# matters against millisecond latencies.
HICCUP_INTERVAL_NS = 5_000_000


class HiccupMeter:
    """A daemon thread that sleeps a fixed interval and records how much longer it took.

    The oversleep is recorded corrected for coordinated omission (as jHiccup does): a 1 s stop
    also counts the wake-ups that were due during it, so the histogram's percentiles are shares
    of wall time. A process that was stopped, starved of CPU or kept from the GIL wakes late.
    """

    def __init__(self, interval_ns: int = HICCUP_INTERVAL_NS) -> None:
        self.interval_ns = interval_ns
        self._hist = LatencyHistogram()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hiccup-meter", daemon=True)

    def start(self) -> HiccupMeter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)

    def take(self) -> bytes | None:
        """The interval's histogram as an HDR V2 blob (None: no wake-up yet), then reset."""
        with self._lock:
            if not self._hist.count:
                return None
            blob = self._hist.to_blob()
            self._hist.reset()
        return blob

    def _run(self) -> None:
        interval_s, interval_ns = self.interval_ns / 1e9, self.interval_ns
        hist = self._hist.hist
        while not self._stop.is_set():
            start = time.monotonic_ns()
            time.sleep(interval_s)
            late = time.monotonic_ns() - start - interval_ns
            with self._lock:
                hist.record_corrected_value(max(late, 0), interval_ns)


class ProcessCpu:
    """CPU time of this process (every thread: librdkafka's too) since the last call."""

    def __init__(self) -> None:
        self._last = time.process_time_ns()

    def take(self) -> int:
        now = time.process_time_ns()
        used, self._last = now - self._last, now
        return used


class HostSampler:
    """Per call: the host's idle and steal shares since the last call, and the CPU time each
    named server process used meanwhile (processes are looked up by pid, which a drill may
    change: a new pid starts counting from its next sample)."""

    def __init__(self) -> None:
        self._host = psutil.cpu_times()
        self._procs: dict[int, psutil.Process] = {}
        self._cpu: dict[int, int] = {}
        self._driver = ProcessCpu()

    def sample(self, pids: dict[str, int]) -> dict:
        now = psutil.cpu_times()
        total = sum(now) - sum(self._host)
        idle = (now.idle - self._host.idle) / total if total > 0 else 0.0
        steal = (getattr(now, "steal", 0.0) - getattr(self._host, "steal", 0.0)) / total \
            if total > 0 else 0.0
        self._host = now
        return {"host_idle_share": max(idle, 0.0), "host_steal_share": max(steal, 0.0),
                "driver_cpu_ns": self._driver.take(),
                "servers": {name: used for name, pid in pids.items()
                            if (used := self._server_cpu(pid)) is not None}}

    def _server_cpu(self, pid: int) -> int | None:
        """CPU ns since this pid's previous sample; None for a pid that is gone or new."""
        try:
            proc = self._procs.setdefault(pid, psutil.Process(pid))
            times = proc.cpu_times()
        except psutil.Error:
            self._procs.pop(pid, None)
            return None
        total = int((times.user + times.system) * 1e9)
        last = self._cpu.get(pid)
        self._cpu[pid] = total
        return None if last is None else total - last
