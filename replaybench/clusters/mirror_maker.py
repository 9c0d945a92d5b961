"""A dedicated MirrorMaker 2 (`org.apache.kafka.connect.mirror.MirrorMaker`, Apache Kafka's own
jars from Maven Central) as a process of the harness's: started with a configuration written
here, its metrics read over HTTP (a Jolokia agent on 127.0.0.1), stopped by pid. Watched
(--monitor), it also serves them to Prometheus, as the brokers do (jmx_exporter.py).

Its positions live in its target cluster (Connect's offsets topic), so a mirror killed and
started again with the same configuration resumes where it stopped.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.request
from pathlib import Path

from replaybench.clusters import broker_metrics, jmx_exporter, mirror_config
from replaybench.clusters.artifacts import (
    KAFKA_VERSION,
    LOG4J_VERSION,
    MavenArtifacts,
    find_java,
    kafka_opts,
)
from replaybench.clusters.cpu_budget import affinity
from replaybench.clusters.kafka_config import file_log4j
from replaybench.clusters.platform import ProcessControl
from replaybench.clusters.ports import LOOPBACK, free_ports, listening
from replaybench.clusters.processes import ServerProcess, read_end
from replaybench.errors import ClusterError

MAIN = "org.apache.kafka.connect.mirror.MirrorMaker"
HEAP_MB = 384
# MirrorMaker's per-partition figures (ms), as its MBeans name them
SOURCE_FIGURES = ("replication-latency-ms", "record-age-ms")
CHECKPOINT_FIGURES = ("checkpoint-latency-ms",)


def mirror_artifacts(version: str = KAFKA_VERSION) -> MavenArtifacts:
    """connect-mirror and its client at the broker's version (4.3.1 resolves with all its
    dependencies here; 4.3.2 and 4.4.0 did not), with the log4j2 binding for SLF4J 1."""
    return MavenArtifacts(
        name=f"mirror-maker-{version}",
        coordinates=(f"org.apache.kafka:connect-mirror:{version}",
                     f"org.apache.kafka:connect-mirror-client:{version}",
                     f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}"))


class MirrorMaker:
    """One dedicated MirrorMaker process running one flow, in `root` (a folder of the run's)."""

    def __init__(self, root: Path, cache_dir: Path, props: dict[str, str],
                 name: str = "mirror", exporter_port: int = 0) -> None:
        """exporter_port: where it serves Prometheus its metrics (0: it does not), the same
        after a restart, so that the scrape finds it again."""
        self.root, self.cache_dir, self.props, self.name = root, cache_dir, props, name
        self.exporter_port = exporter_port
        self.config_path = root / f"{name}.properties"
        self.log_path = root / f"{name}.log"
        self.process: ServerProcess | None = None
        self.metrics_port = 0
        self.starts = 0
        self.cpus = ""   #: the cores it last started on, read back from the kernel
        self.killed = False   #: by a fault: its absence is not a death to end the run on

    def start(self) -> None:
        """Start it (again, after a kill: it resumes from its stored positions)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(mirror_config.render(self.props))
        log4j = self.root / f"{self.name}-log4j2.properties"
        log4j.write_text(file_log4j(self.log_path, {"clients": "org.apache.kafka.clients"})
                         + _POSITIONS_LOG4J)
        libs = mirror_artifacts().fetch(self.cache_dir)
        self.metrics_port = free_ports(1)[0]
        # C1 only: the mirror's start (class loading, two Connect herders) is most of its
        # CPU, and it shares 2 cores with two clusters and the applications
        argv = [find_java().path, f"-Xms{HEAP_MB // 2}m", f"-Xmx{HEAP_MB}m", "-XX:+UseG1GC",
                "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1", "-XX:ParallelGCThreads=1",
                broker_metrics.agent_option(self.cache_dir, self.metrics_port),
                *((jmx_exporter.agent_option(self.cache_dir, self.exporter_port),)
                  if self.exporter_port else ()),
                f"-Dlog4j2.configurationFile={log4j}", *kafka_opts(), "-cp", f"{libs}/*", MAIN,
                str(self.config_path), "--clusters", self.target_alias()]
        self.process = ServerProcess.spawn(argv, str(self.config_path),
                                           self.root / f"{self.name}.console", self.root)
        self.starts += 1
        self.cpus = affinity(self.process.pid)
        self.killed = False

    def target_alias(self) -> str:
        """The cluster it writes to: only the herders of flows into it run (`--clusters`),
        not the idle one of the reverse pair."""
        return self.props["clusters"].split(",")[1].strip()

    @property
    def exporter_address(self) -> str:
        """host:port of its Prometheus metrics ("" when it serves none)."""
        return f"{LOOPBACK}:{self.exporter_port}" if self.exporter_port else ""

    def exporter_answers(self, timeout_s: float = 0.2) -> bool:
        """Whether its Prometheus metrics port takes a connection (the agent serves it)."""
        return bool(self.exporter_port) and listening(self.exporter_port, timeout_s)

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def pid(self) -> int | None:
        return self.process.pid if self.alive() else None

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is not None:
            self.process.stop(timeout_s)

    def kill(self) -> None:
        if self.process is not None:
            self.killed = True
            self.process.kill()

    def raise_if_died(self) -> None:
        """A mirror that exited on its own ends the run, with its last log lines."""
        if self.process is not None and not self.killed and not self.process.alive():
            self.process.wait_gone(2.0)   # reaped: its exit status is known
            how = self.process.exit_status()
            raise ClusterError(f"{self.name} (MirrorMaker 2, pid {self.process.pid}) exited"
                               f"{f' ({how})' if how else ''}; its last lines: "
                               f"{self.last_lines()}")

    def last_lines(self, lines: int = 3) -> str:
        """Its last warnings and errors (else its last lines), one line each, joined."""
        # its own log; what it printed itself (a JVM that could not start) only without one
        text = read_end(self.log_path, 256 * 1024) or read_end(
            self.root / f"{self.name}.console", 64 * 1024)
        every = [line.strip() for line in text.splitlines() if line.strip()]
        bad = [line for line in every if " ERROR " in line or " WARN " in line
               or "Exception" in line]
        return " | ".join((bad or every)[-lines:]) or "(it logged nothing)"

    def start_positions(self) -> dict[tuple[str, int], int]:
        """Where it began to read each partition that had no stored position, (topic,
        partition) -> offset, as its consumer logged it (the latest start wins)."""
        found: dict[tuple[str, int], int] = {}
        try:
            with open(self.log_path, errors="replace") as log:
                for line in log:
                    if (m := _RESET.search(line)) is not None:
                        found[m["topic"], int(m["partition"])] = int(m["offset"])
        except FileNotFoundError:
            pass
        return found

    def figures(self, timeout_s: float = 3.0) -> dict[str, dict[str, float]]:
        """Its own per-partition lag figures (ms), {figure: {"topic-partition": value}}, as
        its MBeans report them now ({} while it is not running or has none yet)."""
        if not self.alive():
            return {}
        try:
            beans = _read_beans(self.metrics_port, "kafka.connect.mirror:*", timeout_s)
        except (OSError, ValueError, http.client.HTTPException):
            # (a mirror killed mid-answer cuts its reply short: IncompleteRead, an
            # HTTPException, ended a run whose fault had just killed the mirror)
            return {}
        return figures_from_beans(beans)


# The consumer's line for a partition it positions by auto.offset.reset (INFO, in a logger
# of its own: the rest of the clients' logging stays at WARN)
_POSITIONS_LOG4J = ("logger.positions.name = "
                    "org.apache.kafka.clients.consumer.internals.SubscriptionState\n"
                    "logger.positions.level = INFO\n")
_RESET = re.compile(r"Resetting offset for partition (?P<topic>\S+)-(?P<partition>\d+) to "
                    r"position FetchPosition\{offset=(?P<offset>\d+)")


def figures_from_beans(beans: dict[str, dict]) -> dict[str, dict[str, float]]:
    """{mbean name: {attribute: value}} -> {figure: {"topic-partition" or
    "group/topic-partition": value}}."""
    out: dict[str, dict[str, float]] = {}
    for name, attributes in beans.items():
        keys = dict(part.split("=", 1) for part in name.split(":", 1)[1].split(","))
        where = f"{keys.get('topic')}-{keys.get('partition')}"
        if keys.get("type") == "MirrorSourceConnector":
            wanted = SOURCE_FIGURES
        elif keys.get("type") == "MirrorCheckpointConnector":
            wanted, where = CHECKPOINT_FIGURES, f"{keys.get('group')}/{where}"
        else:
            continue
        for figure in wanted:
            value = attributes.get(figure)
            if isinstance(value, int | float):
                out.setdefault(figure, {})[where] = float(value)
    return out


def _read_beans(port: int, pattern: str, timeout_s: float) -> dict[str, dict]:
    url = f"http://127.0.0.1:{port}/jolokia/read/{urllib.request.quote(pattern, safe='')}"
    with urllib.request.urlopen(url, timeout=timeout_s) as reply:
        body = json.loads(reply.read())
    if body.get("status") != 200:
        return {}   # no such MBean yet: nothing mirrored so far
    return body.get("value") or {}


class MirrorProcesses(ProcessControl):
    """The mirror as a process faults act on (`targets: [mirror]`): killed, it is started
    again by a restart with the same configuration, and resumes from its stored positions."""

    def __init__(self, maker: MirrorMaker, name: str = "mirror") -> None:
        self.maker, self.name = maker, name

    def actions(self) -> dict[str, frozenset[str]]:
        return {self.name: frozenset({"kill", "restart", "pause", "resume"})}

    def kill(self, process: str) -> None:
        self.check("kill", process)
        self.maker.kill()

    def restart(self, process: str) -> None:
        self.check("restart", process)
        if self.maker.alive():
            self.maker.stop()
        self.maker.start()

    def pause(self, process: str) -> None:
        self.check("pause", process)
        self.maker.process.pause()

    def resume(self, process: str) -> None:
        self.check("resume", process)
        self.maker.process.resume()
