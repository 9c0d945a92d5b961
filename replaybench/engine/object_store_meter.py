"""What the broker asked of its object store during a run: the S3 server's own request and byte
counters, sampled once a second in a thread beside the ticks, then cut by phase and by fault.

This is how an S3-backed run shows where its restore bytes came from (the object store served
N bytes in M GETs while the readers restored R bytes) and what a replaced broker fetched back
before it served again.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from replaybench.clusters.platform import ObjectStore, ProcessControl
from replaybench.clusters.s3_server import ObjectStoreTraffic

SAMPLE_PERIOD_S = 1.0


class ObjectStoreMeter:
    def __init__(self, read: Callable[[], ObjectStoreTraffic], clock: Callable[[], int]) -> None:
        self.read, self.clock = read, clock
        self.samples: list[tuple[int, ObjectStoreTraffic]] = []   # (wall clock ns, counters)
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.sample()
        self._thread = threading.Thread(target=self._loop, name="object-store-meter", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and take a closing sample; once, and only if started."""
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    def sample(self) -> None:
        try:
            traffic = self.read()
        except Exception:  # noqa: BLE001 - the server busy or gone mid-fault: a missed sample
            self.errors += 1
            return
        self.samples.append((self.clock(), traffic))

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_PERIOD_S):
            self.sample()

    def between(self, start_ns: int, end_ns: int) -> ObjectStoreTraffic:
        """Traffic from the first sample at or after start to the last at or before end: inside
        the window (a fault's, whose edges MeteredTarget samples exactly)."""
        samples = sorted(self.samples, key=lambda s: s[0])  # edge samples come from other threads
        times = [t for t, _ in samples]
        first, last = bisect.bisect_left(times, start_ns), bisect.bisect_right(times, end_ns) - 1
        if last <= first:
            return ObjectStoreTraffic()
        return samples[last][1].minus(samples[first][1])


class MeteredProcesses(ProcessControl):
    """The cluster's processes, with the object store sampled right before and after each
    fault action, so what a faulted process fetched is cut to the fault, not to the nearest
    second."""

    def __init__(self, processes: ProcessControl, meter: ObjectStoreMeter) -> None:
        self.processes, self.meter = processes, meter

    def actions(self) -> dict[str, frozenset[str]]:
        return self.processes.actions()

    def kill(self, process: str) -> None:
        self._sampled(self.processes.kill, process)

    def restart(self, process: str) -> None:
        self._sampled(self.processes.restart, process)

    def replace(self, process: str) -> None:
        self._sampled(self.processes.replace, process)

    def pause(self, process: str) -> None:
        self._sampled(self.processes.pause, process)

    def resume(self, process: str) -> None:
        self._sampled(self.processes.resume, process)

    def data_bytes(self, process: str) -> int:
        return self.processes.data_bytes(process)

    def startup_bytes_read(self, process: str) -> int | None:
        return self.processes.startup_bytes_read(process)

    def _sampled(self, action, process: str) -> None:
        self.meter.sample()
        try:
            action(process)
        finally:
            self.meter.sample()


@contextmanager
def metering(store: ObjectStore | None,
             clock: Callable[[], int]) -> Iterator[ObjectStoreMeter | None]:
    """A running meter for a store that counts its traffic; None for one that does not."""
    if store is None or store.traffic() is None:
        yield None
        return
    meter = ObjectStoreMeter(store.traffic, clock)
    meter.start()
    try:
        yield meter
    finally:
        meter.stop()


def annotate(record, meter: ObjectStoreMeter, server: str) -> dict:
    """Time-series rows (role object_store), per-fault columns in record.faults, and the
    manifest's per-phase summary."""
    meter.stop()  # idempotent; takes the closing sample before the figures are cut
    samples = sorted(meter.samples, key=lambda s: s[0])
    # Each interval counts in the phase its end falls in: per-phase totals are the time
    # series' sums, to the sample period.
    phases: dict[str, dict[str, int]] = {}
    for (t0, before), (t1, after) in zip(samples, samples[1:]):
        moved, phase = after.minus(before).as_dict(), _phase_at(record, t1)
        total = phases.setdefault(phase, dict.fromkeys(moved, 0))
        for k, v in moved.items():
            total[k] += v
        record.timeseries.append({"tick": 0, "t_ns": t1, "elapsed_ns": t1 - record.started_ns,
                             "interval_ns": t1 - t0, "phase": phase,
                             "role": "object_store", "actors": 0, "records": 0, "bytes": 0,
                             **{f"s3_{k}": v for k, v in moved.items()}})
    for row in record.faults:
        if row.get("started_ns") and row.get("done_ns"):
            moved = meter.between(row["started_ns"], row["done_ns"])
            row["object_store_bytes_read"] = moved.bytes_read
            row["object_store_get_requests"] = moved.get_requests
    restored = sum(g["bytes"] for g in record.groups)
    storm_read = phases.get("storm", {}).get("bytes_read", 0)
    return {"server": server, "sample_period_s": SAMPLE_PERIOD_S, "missed_samples": meter.errors,
            "phases": phases, "restored_bytes": restored,
            # >1: the object store served more than the readers restored (headers, indexes,
            # re-reads); <1: compressed batches, or part of the restore answered from memory.
            "storm_read_per_restored_byte": round(storm_read / restored, 3) if restored else None}


def _phase_at(record, t_ns: int) -> str:
    current = ""
    for phase, (start, _end) in sorted(record.phase_bounds.items(), key=lambda kv: kv[1][0]):
        if start <= t_ns:
            current = phase
    return current
