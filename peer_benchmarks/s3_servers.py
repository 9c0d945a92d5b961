"""How the local S3 server was chosen: SeaweedFS (the one replaybench runs) against s3proxy
(Maven Central) and moto's server (PyPI), side by side in one run.

    pip install -e '.[bench]' && python peer_benchmarks/s3_servers.py      # ~5 minutes on 2 cores

Per server: what the S3-backed broker needs (ranged GET, If-None-Match: *, If-Match), whether
a ranged GET reads the whole object (1 KiB out of a 1 MiB vs a 256 MiB object), small and
large object throughput, conditional-PUT (compare-and-swap) rate, the server's CPU seconds and
memory, and then the real thing: a smoke restore-storm on Tansu backed by that server. Ratios
are against SeaweedFS measured in the same run. Every figure goes through boto3, so the client
costs the same for all three.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import botocore

from replaybench.clusters.artifacts import MavenArtifacts, default_cache_dir, find_java
from replaybench.clusters.s3_server import ACCESS_KEY, SECRET_KEY, S3Server, SeaweedS3Server
from replaybench.clusters.tansu import TansuCluster
from replaybench.engine import runner

S3PROXY = MavenArtifacts("s3proxy-4.1.0", ("org.gaul:s3proxy:4.1.0:jar-with-dependencies",),
                         transitive=False)
BUCKET = "rb-bench"
WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"


class MotoServer(S3Server):
    """moto's server: objects in memory, in Python."""

    name = "moto"

    def _argv(self) -> list[str]:
        launch = "import sys; from moto.server import main; main(sys.argv[2:])"
        return [sys.executable, "-c", launch, str(self.root), "-H", "127.0.0.1", "-p", str(self.port)]


class S3ProxyServer(S3Server):
    """s3proxy on its jclouds filesystem backend: objects as files under root."""

    name = "s3proxy"

    def _argv(self) -> list[str]:
        jar = next(S3PROXY.fetch(default_cache_dir()).glob("s3proxy-*.jar"))
        (self.root / "objects").mkdir(exist_ok=True)
        props = self.root / "s3proxy.conf"
        props.write_text(f"s3proxy.endpoint=http://127.0.0.1:{self.port}\n"
                         "s3proxy.authorization=aws-v2-or-v4\n"
                         f"s3proxy.identity={ACCESS_KEY}\ns3proxy.credential={SECRET_KEY}\n"
                         "jclouds.provider=filesystem-nio2\n"
                         f"jclouds.filesystem.basedir={self.root / 'objects'}\n")
        return [find_java().path, "-jar", str(jar), "--properties", str(props)]


SERVERS = (SeaweedS3Server, S3ProxyServer, MotoServer)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def capabilities(c) -> dict[str, str]:
    """What the S3-backed broker relies on; 'ok' or what the server did instead."""
    out = {}
    etag = c.put_object(Bucket=BUCKET, Key="cap", Body=bytes(range(256)) * 4)["ETag"]
    part = c.get_object(Bucket=BUCKET, Key="cap", Range="bytes=10-19")["Body"].read()
    out["ranged GET"] = "ok" if part == bytes(range(10, 20)) else f"got {len(part)} bytes"
    for name, kwargs in (("If-None-Match: *", {"IfNoneMatch": "*"}),
                         ("If-Match (stale)", {"IfMatch": '"stale"'})):
        try:
            c.put_object(Bucket=BUCKET, Key="cap", Body=b"x", **kwargs)
            out[name] = "IGNORED (overwrote)"
        except botocore.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            out[name] = "ok" if code == "PreconditionFailed" else code
    try:
        c.put_object(Bucket=BUCKET, Key="cap", Body=b"y", IfMatch=etag)
        out["If-Match (current)"] = "ok"
    except botocore.exceptions.ClientError as exc:
        out["If-Match (current)"] = exc.response["Error"]["Code"]
    return out


def _timed(fn, jobs, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(fn, jobs))
    return time.perf_counter() - start


def throughput(c) -> dict[str, float]:
    small, big = os.urandom(16 << 10), os.urandom(8 << 20)
    figures = {}
    t = _timed(lambda i: c.put_object(Bucket=BUCKET, Key=f"s/{i}", Body=small), range(800), 8)
    figures["16 KiB PUT /s"] = 800 / t
    t = _timed(lambda i: c.put_object(Bucket=BUCKET, Key=f"b/{i}", Body=big), range(24), 4)
    figures["8 MiB PUT MB/s"] = 24 * 8.389 / t
    t = _timed(lambda i: c.get_object(Bucket=BUCKET, Key=f"b/{i}")["Body"].read(), range(24), 4)
    figures["8 MiB GET MB/s"] = 24 * 8.389 / t
    t = _timed(lambda i: c.get_object(Bucket=BUCKET, Key=f"b/{i % 24}",
                                      Range=f"bytes={i % 128 * 65536}-{i % 128 * 65536 + 65535}"
                                      )["Body"].read(), range(800), 8)
    figures["64 KiB ranged GET /s"] = 800 / t
    etag = c.put_object(Bucket=BUCKET, Key="cas", Body=b"0")["ETag"]
    start = time.perf_counter()
    for i in range(200):   # one writer advancing a pointer, as a broker advances its watermark
        etag = c.put_object(Bucket=BUCKET, Key="cas", Body=str(i).encode(), IfMatch=etag)["ETag"]
    figures["If-Match PUT /s"] = 200 / (time.perf_counter() - start)
    return figures


def range_cost(c) -> dict[str, float]:
    """ms for a 1 KiB ranged GET; growing with the object means the server reads it whole."""
    out = {}
    for mib in (1, 256):
        c.upload_fileobj(io.BytesIO(os.urandom(mib << 20)), BUCKET, f"r{mib}")  # multipart
        start = time.perf_counter()
        for i in range(20):
            c.get_object(Bucket=BUCKET, Key=f"r{mib}", Range=f"bytes={i << 12}-{(i << 12) + 1023}"
                         )["Body"].read()
        out[f"1 KiB of {mib} MiB, ms"] = (time.perf_counter() - start) / 20 * 1e3
    return out


def tansu_restore(server_cls, root: Path) -> dict[str, float]:
    """A smoke restore-storm on Tansu backed by this server (a bare --bootstrap run)."""
    with TansuCluster(root / "tansu", default_cache_dir(), s3_server=server_cls).start() as tansu:
        cpu0 = cpu_seconds(tansu.s3.process.pid)
        out = runner.run(runner.RunRequest(
            WORKLOADS / "restore-storm.yaml", default_cache_dir(),
            ("topic.replication=1", "topic.configs.cleanup.policy=delete"),
            "smoke", bootstrap=tansu.bootstrap, results_dir=root / "results"))
        cpu = cpu_seconds(tansu.s3.process.pid) - cpu0
    g = out.summary.groups[0] if out.summary.groups else None
    storm = out.summary.live.get("storm producer", {})
    return {"Tansu restore s": g.restore_time_s if g and out.status == "completed" else float("nan"),
            "Tansu storm produce p99 ms": storm.get("p99_ns", 0) / 1e6,
            "server CPU s in the run": cpu}


def measure(server_cls, root: Path, with_tansu: bool) -> dict[str, object]:
    with server_cls(root / "micro").start() as server:
        c = server.client()
        c.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        started = time.perf_counter()
        caps = capabilities(c)
        cpu0 = cpu_seconds(server.process.pid)
        figures = {**throughput(c), **range_cost(c)}
        figures["server CPU s (micro)"] = cpu_seconds(server.process.pid) - cpu0
        figures["server RSS MB"] = rss_mb(server.process.pid)
        figures["micro wall s"] = time.perf_counter() - started
    if with_tansu:
        figures.update(tansu_restore(server_cls, root))
    return {"capabilities": caps, "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-tansu", action="store_true", help="skip the Tansu restore runs")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="rb-s3bench-") as tmp:
        for cls in SERVERS:
            print(f"measuring {cls.name} ...", flush=True)
            results[cls.name] = measure(cls, Path(tmp) / cls.name, not args.no_tansu)
    names = [c.name for c in SERVERS]
    print("\n| check | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for check in results[names[0]]["capabilities"]:
        print(f"| {check} | " + " | ".join(results[n]["capabilities"][check] for n in names) + " |")
    print("\n| figure | " + " | ".join(names) + " | " +
          " | ".join(f"{n} / {names[0]}" for n in names[1:]) + " |")
    print("|---|" + "---|" * (2 * len(names) - 1))
    for key, base in results[names[0]]["figures"].items():
        values = [results[n]["figures"][key] for n in names]
        ratios = [f"{v / base:.2f}" if base else "—" for v in values[1:]]
        print(f"| {key} | " + " | ".join(f"{v:.1f}" for v in values) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
