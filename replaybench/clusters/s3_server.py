"""A local S3-compatible server for the S3-backed broker: moto's server (PyPI), on 127.0.0.1 and
a free port, started and stopped by pid like the brokers.

Chosen because it is a plain Python package (no second toolchain), serves ranged GETs and
honours conditional PUTs (If-None-Match: *, If-Match), which the S3-backed broker relies on;
checked by tests/test_s3_server.py. It keeps objects in memory, which suits benchmark-sized
states on this machine (24 GiB).
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

from replaybench.clusters.ports import free_ports
from replaybench.clusters.processes import ServerProcess
from replaybench.errors import ClusterError

ACCESS_KEY, SECRET_KEY, REGION = "replaybench", "replaybench-secret", "eu-west-2"
_LAUNCH = "import sys; from moto.server import main; main(sys.argv[2:])"


class S3Server:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.port = free_ports(1)[0]
        self.process: ServerProcess | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "S3Server":
        self.root.mkdir(parents=True, exist_ok=True)
        # The root path rides along as an ignored argument: the marker that ties the pid to us.
        argv = [sys.executable, "-c", _LAUNCH, str(self.root), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = ServerProcess.spawn(argv, str(self.root), self.root / "s3.log", self.root)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise ClusterError(f"the S3 server exited at start; see {self.root / 's3.log'}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1).close()
                return self
            except OSError:
                time.sleep(0.2)
        raise ClusterError(f"the S3 server did not answer on {self.endpoint} within {timeout_s:.0f} s")

    def create_bucket(self, name: str) -> None:
        import boto3
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                              aws_secret_access_key=SECRET_KEY, region_name=REGION)
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            if not self.process.wait_gone(10):
                self.process.kill()

    def __enter__(self) -> "S3Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
