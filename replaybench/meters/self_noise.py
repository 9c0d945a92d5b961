"""The harness's own noise, measured beside every figure: how late its processes wake up
(hiccups), how much CPU they and the brokers burn, and how idle the host was.

A latency is judged against these: when the load generator itself wakes late, the latency it
reports is its own, not the cluster's (interference.py, client_bound.py).
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import psutil

from replaybench.format import core
from replaybench.format.counters import FOLD_COUNTERS
from replaybench.format.histograms import LatencyHistogram

# 10 ms between wake-ups: each costs a Python thread ~70 us here (the sleep, the wake, the GIL),
# so jHiccup's 1 ms would take ~7 % of a core and 5 ms took 1.3 %; at 10 ms the meter costs
# 0.7-0.8 % (benchmarks/test_bench_self_noise.py). Oversleeps are still measured to the ns, and a
# stall is counted for its whole length (see HiccupMeter).
HICCUP_INTERVAL_NS = 10_000_000


class HiccupMeter:
    """A daemon thread that sleeps a fixed interval and notes how much longer it took.

    The oversleeps are recorded at take(), in one vectorised call, corrected for coordinated
    omission as jHiccup (and hdrh's record_corrected_value) do: a wake-up v ns late also stands
    for the wake-ups due meanwhile, v - interval, v - 2 x interval, ... down to the interval. So
    the histogram's percentiles are shares of wall time. A process that was stopped, starved of
    CPU or kept from the GIL wakes late. The thread itself only appends to a list: recording
    each wake-up in Python cost 1.8 % of a core at 5 ms.
    """

    def __init__(self, interval_ns: int = HICCUP_INTERVAL_NS) -> None:
        self.interval_ns = interval_ns
        self._late: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hiccup-meter", daemon=True)
        self._scratch = np.zeros(len(FOLD_COUNTERS), np.int64)

    def start(self) -> HiccupMeter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)

    def take(self) -> bytes | None:
        """The oversleeps since the last take as an HDR V2 blob (None: no wake-up yet)."""
        late, self._late = self._late, []
        if not late:
            return None
        hist = LatencyHistogram()
        core.record_latencies(hist, corrected(np.maximum(np.array(late, np.int64), 0),
                                              self.interval_ns), self._scratch)
        return hist.to_blob()

    def _run(self) -> None:
        interval_s, interval_ns = self.interval_ns / 1e9, self.interval_ns
        clock, sleep, stopped = time.monotonic_ns, time.sleep, self._stop.is_set
        while not stopped():
            start = clock()
            sleep(interval_s)
            # the list take() swapped in (an append racing the swap may land in the old list
            # after it was read: one sample lost at most)
            self._late.append(clock() - start - interval_ns)


def corrected(values: np.ndarray, interval_ns: int) -> np.ndarray:
    """values plus, for each v > interval, v - k x interval for k = 1 .. while >= interval."""
    extra = np.maximum(values // interval_ns - 1, 0)
    if not extra.any():
        return values
    owner = np.repeat(values, extra)
    step = np.arange(len(owner)) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    return np.concatenate([values, owner - step * interval_ns])


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
        # "The host" is the cores this process may use: every core, or the harness's share of
        # a CPU budget (clusters/cpu_budget.py), which the driver is pinned to for the run
        self.cores = sorted(os.sched_getaffinity(0))
        self._host = self._times()
        self._procs: dict[int, psutil.Process] = {}
        self._cpu: dict[int, int] = {}
        self._driver = ProcessCpu()

    def _times(self) -> dict[str, float]:
        """Seconds per CPU state (idle, steal, ...) summed over self.cores."""
        per_cpu = psutil.cpu_times(percpu=True)
        out: dict[str, float] = {}
        for cpu in self.cores:
            if cpu < len(per_cpu):
                for state, seconds in per_cpu[cpu]._asdict().items():
                    out[state] = out.get(state, 0.0) + seconds
        return out

    def sample(self, pids: dict[str, int]) -> dict:
        now = self._times()
        total = sum(now.values()) - sum(self._host.values())
        idle = (now.get("idle", 0.0) - self._host.get("idle", 0.0)) / total if total > 0 else 0.0
        steal = (now.get("steal", 0.0) - self._host.get("steal", 0.0)) / total \
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
