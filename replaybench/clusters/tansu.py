"""The S3-backed broker: Tansu (crates.io, built once with cargo and cached) on the local S3
server. Its brokers keep nothing on local disk, so replacing one is starting a new process.

Tansu has no log compaction: a changelog on it keeps every update and tombstone, and a restore
reads them all.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

from replaybench.clusters import health
from replaybench.clusters.cpu_budget import pinned_to
from replaybench.clusters.ports import free_ports, listening
from replaybench.clusters.processes import ServerProcess
from replaybench.clusters.s3_server import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    ObjectStoreTraffic,
    S3Server,
    SeaweedS3Server,
)
from replaybench.errors import ClusterError

TANSU_VERSION = "0.6.0"
BUILD_TIMEOUT_S = 3600


def tansu_binary(cache_dir: Path) -> Path:
    """The cached tansu binary, built with cargo on first use (~17 min on 2 cores)."""
    root = cache_dir / f"tansu-{TANSU_VERSION}"
    binary = root / "bin" / "tansu"
    if binary.exists():
        return binary
    cargo = shutil.which("cargo")
    if not cargo:
        raise ClusterError(f"tansu {TANSU_VERSION} is not built in {root} and `cargo` is not on "
                           "PATH to build it (install Rust with rustup)")
    done = subprocess.run([cargo, "install", "tansu", "--version", TANSU_VERSION, "--features",
                           "dynostore", "--locked", "--root", str(root)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if done.returncode != 0 or not binary.exists():
        last = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise ClusterError(f"building tansu {TANSU_VERSION} with cargo failed: {last[0]}")
    return binary


class TansuCluster:
    """One Tansu broker on 127.0.0.1 with its storage in a bucket of a local S3 server."""

    BUCKET = "replaybench"
    NODE_ID = 111  # what Tansu reports for itself

    def __init__(self, root: Path, cache_dir: Path, s3_server=SeaweedS3Server,
                 cpus: frozenset[int] | None = None) -> None:
        """cpus: the cores Tansu and its S3 server run on (cpu_budget.py); None: any."""
        self.root = Path(root).resolve()
        self.cache_dir = cache_dir
        self.port = free_ports(1)[0]
        self.cluster_id = f"rb-{secrets.token_hex(6)}"   # also the pid marker
        self.cpus = cpus
        self.s3: S3Server = s3_server(self.root / "s3", cpus)
        self.process: ServerProcess | None = None
        self.restarts = 0
        self.startup_reads: ObjectStoreTraffic | None = None   # None: the store does not count

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_config(self) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap}

    def start(self) -> TansuCluster:
        binary = tansu_binary(self.cache_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.s3.start()
        self.s3.create_bucket(self.BUCKET)
        self._binary = binary
        try:
            self._spawn()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            if not self.process.wait_gone(10):
                self.process.kill()
        self.s3.stop()

    def __enter__(self) -> TansuCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- drills: the broker is stateless, so every one is about the process only ----------

    def server_pids(self) -> dict[str, int]:
        """The broker's and the S3 server's processes (their CPU is recorded every tick)."""
        procs = {"tansu": self.process, "s3-server": self.s3.process}
        return {name: p.pid for name, p in procs.items() if p is not None and p.alive()}

    def kill(self, node_id: int) -> None:
        self.process.kill()
        self.process.wait_gone(10)

    def restart(self, node_id: int) -> None:
        self.process.terminate()
        if not self.process.wait_gone(10):
            self.process.kill()
        self._spawn()

    def replace(self, node_id: int) -> None:
        """A new broker process: there is no disk to lose or to fill again."""
        self.kill(node_id)
        self._spawn()

    def pause(self, node_id: int) -> None:
        self.process.pause()

    def resume(self, node_id: int) -> None:
        self.process.resume()

    def data_bytes(self, node_id: int) -> int:
        return 0  # nothing on local disk, ever

    def startup_bytes_read(self, node_id: int) -> int | None:
        """What the newest broker process read from the object store before it accepted a
        connection: all a replacement fetches back (afterwards it only serves clients)."""
        return self.startup_reads.bytes_read if self.startup_reads else None

    def _spawn(self, timeout_s: float = 30.0) -> None:
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
               "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT": self.s3.endpoint,
               "AWS_ALLOW_HTTP": "true"}
        argv = [str(self._binary), "broker", "--cluster-id", self.cluster_id,
                "--listener-url", f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url", f"tcp://127.0.0.1:{self.port}",
                "--storage-engine", f"s3://{self.BUCKET}/"]
        log = self.root / f"tansu-{self.restarts}.log"
        before = self.s3.traffic()
        with open(log, "ab") as out:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, cwd=self.root, env=env,
                                     start_new_session=True, preexec_fn=pinned_to(self.cpus))
        self.process = ServerProcess(popen.pid, self.cluster_id, popen)
        self.restarts += 1

        def alive() -> None:
            if not self.process.alive():
                raise ClusterError(f"tansu exited at start; see {log}")
        health.wait_until(self._listening, timeout_s, f"tansu to listen on {self.bootstrap}",
                          alive, interval_s=0.01)
        # Before its port accepted, no client could ask it anything: what it read is its own.
        after = self.s3.traffic()
        self.startup_reads = after.minus(before) if before and after else None
        health.wait_until(lambda: bool(health.live_broker_ids(health.admin(self.bootstrap), 1.0)),
                          timeout_s, f"tansu to answer on {self.bootstrap}", alive)

    def _listening(self) -> bool:
        return listening(self.port)
