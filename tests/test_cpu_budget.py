"""A CPU budget per side: the cluster's servers on some cores, the harness on the others, as
the kernel really pinned them (read back from the processes, not from what was asked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from replaybench.clusters import cpu_budget
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.errors import UsageError

USABLE = sorted(os.sched_getaffinity(0))
two_cores = pytest.mark.skipif(len(USABLE) < 2, reason="a budget per side needs two cores")


def test_cpu_lists_read_and_write_as_taskset_does():
    assert cpu_budget.cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    assert cpu_budget.cpu_list(set()) == ""
    first = USABLE[0]
    assert cpu_budget.budget(str(first), None).cluster == {first}
    assert cpu_budget.budget(None, None) is None


@pytest.mark.parametrize(("cluster", "harness", "message"), [
    ("0-", None, "'0-' is not a cpu list"),
    ("2-1", None, "'2-1' is not a cpu list"),
    ("4096", None, "core(s) 4096 are not usable here"),
    (f"{USABLE[0]}", f"{USABLE[0]}", f"share {USABLE[0]}"),
    (cpu_budget.cpu_list(USABLE), None, "each side needs a core of its own"),
])
def test_a_budget_that_cannot_be_kept_is_one_line(cluster, harness, message):
    with pytest.raises(UsageError) as refused:
        cpu_budget.budget(cluster, harness)
    assert message in str(refused.value) and "\n" not in str(refused.value)


@two_cores
def test_a_broker_started_on_a_budget_runs_on_its_cores_only(cluster_root, cache_dir):
    core = frozenset({USABLE[-1]})
    with LocalKafkaCluster(cluster_root / "pinned", 1, cache_dir=cache_dir,
                           cpus=core).start() as cluster:
        [pid] = [p.pid for p in cluster.processes.values()]
        assert os.sched_getaffinity(pid) == core
    assert os.sched_getaffinity(0) == set(USABLE)   # the test's own process untouched


@pytest.mark.slow(45)
@two_cores
@pytest.mark.cluster
def test_a_run_on_a_budget_keeps_the_cluster_and_the_harness_apart(tmp_path):
    cluster, harness = USABLE[0], USABLE[1]
    done = subprocess.run(
        [sys.executable, "-m", "replaybench", "run", "--workload", "restore-storm", "--scale",
         "smoke", "--results", str(tmp_path), "--cluster-cpus", str(cluster),
         "--harness-cpus", str(harness), *[a for s in (
             "seed.records=30000", "seed.keys=3000", "phases.warmup_s=1",
             "phases.warmup_max_s=1", "phases.baseline_s=1", "phases.recovery_s=1")
             for a in ("--set", s)]],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [info] = [json.loads(p.read_text()) for p in tmp_path.glob("*/manifest.json")]
    budget = info["cpu_budget"]
    assert (budget["cluster"], budget["harness"]) == (str(cluster), str(harness))
    # read back from the processes while they ran: the broker, and every actor Ray started
    assert budget["servers"] == {"broker-1": str(cluster)}
    assert info["placement"] and all(p["cpus"] == str(harness)
                                     for p in info["placement"].values()), info["placement"]
    # the restore is judged on the harness's own core, which no server shares
    import pyarrow.parquet as pq
    [group] = pq.read_table(tmp_path / info["run_id"] / "restore_groups.parquet").to_pylist()
    assert (group["host_cores"], group["shared_host"]) == (1, False)
    # storm.readers: auto follows the harness's one core (two readers), not the machine's cores
    assert group["readers"] == 2 and info["workload"]["readers"] == {
        "readers": 2, "asked": "auto", "cores": 1, "cores_from": "this process's CPU affinity"}
