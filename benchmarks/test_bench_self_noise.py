"""Issue 11's cost target for the harness's own meters: the hiccup meter and the CPU accounting
add no more than 1 % of a core per actor, measured side by side with the meters off.

    python -m pytest benchmarks/test_bench_self_noise.py --benchmark-enable -s

A live producer at the workloads' 2,000 records/s runs in this process for ROUND_S seconds with
the meters on, then off, alternating; the difference in process CPU over wall time is the
meters' share of a core.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time

from replaybench.meters.self_noise import HiccupMeter, HostSampler, ProcessCpu
from replaybench.roles.live_producer import KeyShare, LiveProducer
from replaybench.roles.schedule import RateSchedule

from benchmarks.conftest import RESULTS
from tests.kafka_helpers import create_topic

ROUND_S = 5.0
ROUNDS = 3
TARGET_SHARE = 0.01


def _producer_round(producer: LiveProducer, meters: bool) -> float:
    """Process CPU seconds per wall second while the producer ticks once a second."""
    meter = HiccupMeter().start() if meters else None
    cpu = ProcessCpu()
    wall0, cpu0 = time.monotonic(), time.process_time()
    end = producer.clock() + int(ROUND_S * 1e9)
    while producer.clock() < end:
        producer.tick(min(producer.clock() + 1_000_000_000, end))
        if meter is not None:
            cpu.take()
            meter.take()
    used = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    if meter is not None:
        meter.stop()
    return used


def test_meters_cost_under_one_percent_of_a_core(kafka1):
    create_topic(kafka1.bootstrap, "bench-noise", 4, 1)
    producer = LiveProducer(kafka1.client_config(), "bench-noise", 4, KeyShare(10_000), 200,
                            RateSchedule.constant(2_000))
    producer.start()
    on, off = [], []
    for _ in range(ROUNDS):
        off.append(_producer_round(producer, meters=False))
        on.append(_producer_round(producer, meters=True))
    producer.finish()
    share = statistics.median(on) - statistics.median(off)
    RESULTS["meters_share"] = share
    RESULTS["meters_producer_cpu"] = statistics.median(off)
    print(f"\nproducer at 2,000/s: {statistics.median(off):.3f} cores without meters, "
          f"{statistics.median(on):.3f} with: meters {share:+.4f} of a core "
          f"(target <= {TARGET_SHARE}); rounds off {off} on {on}")
    assert share <= TARGET_SHARE


def _child_cpu_s(code: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_the_meter_alone_in_an_idle_process():
    """The meter's own cost, without a role's noise around it: a child process sleeping 10 s
    with the meter (taken once a second, as a tick does) against one without, alternating."""
    base = "import time\nfrom replaybench.meters.self_noise import HiccupMeter\n"
    on_code = base + "m = HiccupMeter().start()\nfor _ in range(10):\n    time.sleep(1); m.take()\n"
    off, on = [], []
    for _ in range(ROUNDS):
        off.append(_child_cpu_s(base + "time.sleep(10)"))
        on.append(_child_cpu_s(on_code))
    share = (statistics.median(on) - statistics.median(off)) / 10
    RESULTS["meter_alone"] = share
    assert share <= TARGET_SHARE


def test_host_sampling_per_tick_is_cheap(benchmark, kafka1):
    """The coordinator samples the host and every broker once a tick (1 s)."""
    sampler = HostSampler()
    pids = kafka1.server_pids()
    sampler.sample(pids)
    benchmark.pedantic(sampler.sample, args=(pids,), rounds=50, iterations=1)
    RESULTS["host_sample"] = benchmark.stats.stats.median
    assert benchmark.stats.stats.median < TARGET_SHARE   # seconds per 1 s tick
