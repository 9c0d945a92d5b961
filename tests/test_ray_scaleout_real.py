"""Scale-out on a real Ray cluster: a head and two workers started with `ray start` (token
authentication on, as Ray 2.60 clusters have it), `replaybench run --ray-address` from the
command line. Actors land where the placement says: evenly, live traffic apart from the
restore, or pinned by node label; a cluster that refuses the token or cannot be reached is one
line, and nothing is started.

Ray's `ray start` registers a multi-node cluster under the host's address even when given
127.0.0.1: its only switch to keep loopback (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) refuses
worker nodes. The nodes run on this machine and are stopped by pid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from replaybench.clusters.processes import find_by_marker

from tests.ray_start_cluster import RayStartCluster

pytestmark = pytest.mark.cluster

QUICK = ["--set", "phases.warmup_s=1", "--set", "phases.warmup_max_s=1", "--set",
         "phases.baseline_s=2", "--set", "phases.recovery_s=2", "--set", "seed.records=30000",
         "--set", "seed.keys=3000"]
LIVE = ("seeder", "producer", "consumer")


@pytest.fixture(scope="module")
def ray3():
    """Head (no label), worker 1 (rb-role=restore), worker 2 (no label); token auth on."""
    with RayStartCluster(2, labels=["", "rb-role=restore", ""],
                         env={"RAY_AUTH_MODE": "token"}) as cluster:
        yield cluster


def _run(address: str, tmp: Path, *sets: str, env: dict | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    # the driver gets no RAY_AUTH_MODE: replaybench finds the token as `ray start` does
    clean = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    return subprocess.run([sys.executable, "-m", "replaybench", "run", "--workload",
                           "restore-storm", "--scale", "smoke", "--ray-address", address,
                           "--results", str(tmp), *QUICK, *[a for s in sets for a in ("--set", s)]],
                          capture_output=True, text=True, timeout=timeout,
                          env={**clean, **(env or {})})


def _placed(tmp: Path) -> tuple[dict, dict[str, list[str]]]:
    """The manifest, and per node (by address order in the plan) the actors really there."""
    [info] = [json.loads(p.read_text()) for p in tmp.glob("*/manifest.json")]
    actual: dict[str, list[str]] = {}
    for actor, where in info["placement"].items():
        actual.setdefault(where["node_id"], []).append(actor)
    return info, actual


@pytest.mark.slow(75)
def test_six_readers_spread_two_per_node_and_land_where_planned(ray3, tmp_path):
    done = _run(ray3.address, tmp_path, "storm.readers=6")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    info, actual = _placed(tmp_path)
    assert info["status"] == "completed" and info["ray"]["ray_nodes"] == "3"
    assert info["ray"]["auth"].startswith("token from")
    plan = {n["node_id"]: sorted(n["actors"]) for n in info["placement_plan"]["nodes"]}
    assert {k: sorted(v) for k, v in actual.items()} == {k: v for k, v in plan.items() if v}
    readers = Counter(node for node, actors in actual.items() for a in actors
                      if a.startswith("reader"))
    assert sorted(readers.values()) == [2, 2, 2]       # floor(6/3) .. ceil(6/3)
    assert sorted(len(v) for v in actual.values()) == [3, 3, 3]   # 9 actors over 3 nodes
    # each node as `ray start --num-cpus=1` made it: what storm.readers: auto would count
    assert [n["cpus"] for n in info["placement_plan"]["nodes"]] == [1, 1, 1]
    assert info["workload"]["readers"]["asked"] == 6
    # the same results, in kind, as a run on one machine
    assert {p.name for p in (tmp_path / info["run_id"]).iterdir()} >= {
        "manifest.json", "restore_groups.parquet", "latency.parquet", "timeseries.parquet",
        "verification.parquet"}
    assert info["summary"]["verification_passed"] is True
    page = tmp_path / "report.html"   # and the report shows where each actor ran
    subprocess.run([sys.executable, "-m", "replaybench", "report", str(tmp_path / info["run_id"]),
                    "-o", str(page)], check=True, capture_output=True, timeout=120)
    assert "placement: spread" in page.read_text() and "reader-0-5" in page.read_text()


@pytest.mark.slow(45)
def test_separation_keeps_live_traffic_off_the_restore_nodes_and_a_pin_wins(ray3, tmp_path):
    """separate: seeder, producer, consumer on the head, readers elsewhere; with the readers
    pinned to the one worker labelled rb-role=restore, all of them are there."""
    done = _run(ray3.address, tmp_path, "placement.policy=separate",
                "placement.pin.reader=rb-role=restore", "storm.readers=4")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    info, actual = _placed(tmp_path)
    nodes = info["placement_plan"]["nodes"]
    head = next(n["node_id"] for n in nodes if n["head"])
    [labelled] = [n["node_id"] for n in nodes if n["labels"].get("rb-role") == "restore"]
    assert sorted(a.split("-")[0] for a in actual[head]) == sorted(LIVE)
    assert sorted(actual[labelled]) == [f"reader-0-{i}" for i in range(4)]
    assert set(actual) == {head, labelled}   # the unlabelled worker runs nothing


@pytest.mark.slow(22)
def test_a_refused_token_is_one_line_and_starts_no_broker(ray3, tmp_path):
    """The run's temp dir is the test's own, and every process started below it is looked
    for while the run goes on: a broker the run started would be seen, whatever runs beside
    this test."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    seen: set[int] = set()
    watching = threading.Event()

    def watch() -> None:
        while not watching.wait(0.2):
            seen.update(p.pid for p in find_by_marker(str(scratch)))
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        done = _run(ray3.address, tmp_path / "results",
                    env={"RAY_AUTH_TOKEN": "not-the-token", "TMPDIR": str(scratch)}, timeout=120)
    finally:
        watching.set()
        watcher.join()
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert f"cannot join the Ray cluster at {ray3.address}" in done.stderr
    assert "not let in; it refused the token from RAY_AUTH_TOKEN" in done.stderr
    assert not seen and not list(scratch.glob("rb-kafka-*"))
    assert not list((tmp_path / "results").glob("*"))   # no run folder, nothing written


@pytest.mark.parametrize("args, expected", [
    (("--ray-address", "127.0.0.1:1"), "cannot reach the Ray cluster at 127.0.0.1:1 within 5 s"),
    (("--set", "placement.policy=separate"), "placement.policy separate needs at least 2 Ray "
                                             "nodes"),
    (("--set", "placement.pin.reader=zone"), "placement.pin: reader: 'zone' is not a node label"),
])
def test_what_cannot_be_placed_is_one_line_before_anything_starts(tmp_path, args, expected):
    done = subprocess.run([sys.executable, "-m", "replaybench", "run", "--scale", "smoke",
                           "--results", str(tmp_path), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())
