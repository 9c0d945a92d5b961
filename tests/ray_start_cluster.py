"""A real multi-node Ray cluster for the scale-out tests: a head and workers started with
`ray start` on loopback, as a user starts them, each node in a temp dir of its own. Stopped by
the pids of the processes whose command line names one of those dirs, never by name."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from replaybench.clusters.ports import free_ports


class RayStartCluster:
    def __init__(self, workers: int = 2, labels: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        """labels: per node, head first, a `ray start --labels` string (e.g. rb-role=restore).
        env: e.g. RAY_AUTH_MODE, the same on every node, as Ray requires."""
        self.workers, self.labels = workers, labels or []
        self.env = {**{k: v for k, v in os.environ.items()
                       if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"},   # set, it refuses workers
                    "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
        self.dirs: list[Path] = []
        self.address = ""

    def __enter__(self) -> RayStartCluster:
        try:
            port = free_ports(1)[0]
            self.address = f"127.0.0.1:{port}"
            self._started(self._start(["--head", f"--port={port}", "--include-dashboard=false"]))
            # the workers join at once: each `ray start` is ~10 s, mostly waiting
            for started in [self._start([f"--address={self.address}"])
                            for _ in range(self.workers)]:
                self._started(started)
            self._wait_for_nodes()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self, args: list[str]) -> subprocess.Popen:
        node_dir = Path(tempfile.mkdtemp(prefix="rb-raynode-", dir="/tmp"))
        self.dirs.append(node_dir)
        label = self.labels[len(self.dirs) - 1] if len(self.dirs) <= len(self.labels) else ""
        return subprocess.Popen(["ray", "start", *args, "--node-ip-address=127.0.0.1",
                                 "--num-cpus=1", f"--temp-dir={node_dir}",
                                 "--object-store-memory=100000000",
                                 *([f"--labels={label}"] if label else [])],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    @staticmethod
    def _started(start: subprocess.Popen, timeout_s: float = 120.0) -> None:
        """`ray start` has returned, successfully."""
        said, _ = start.communicate(timeout=timeout_s)
        if start.returncode:
            raise subprocess.CalledProcessError(start.returncode, start.args, said)

    def _wait_for_nodes(self, timeout_s: float = 60.0) -> None:
        """Every node's raylet up (`ray start` returns once it has launched them)."""
        deadline = time.monotonic() + timeout_s
        while len({d for d in self.dirs for p in self.processes() if _is_raylet(p, d)}) < \
                len(self.dirs):
            if time.monotonic() > deadline:
                raise TimeoutError("ray start: not every raylet came up")
            time.sleep(0.5)

    def processes(self) -> list[psutil.Process]:
        """The nodes' processes: those naming a node dir, and their children (Ray's agents
        rename themselves `ray::...`)."""
        found: dict[int, psutil.Process] = {}
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            if any(str(d) in line for d in self.dirs):
                found[proc.pid] = proc
                try:
                    found.update({c.pid: c for c in proc.children(recursive=True)})
                except psutil.NoSuchProcess:
                    pass
        return list(found.values())

    def stop(self) -> None:
        procs = self.processes()
        for proc in procs:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(procs, timeout=20)
        for node_dir in self.dirs:   # made by _start
            shutil.rmtree(node_dir, ignore_errors=True)


def _is_raylet(proc: psutil.Process, node_dir: Path) -> bool:
    try:
        return proc.name() == "raylet" and str(node_dir) in " ".join(proc.cmdline())
    except psutil.NoSuchProcess:
        return False
