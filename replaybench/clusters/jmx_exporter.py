"""The Prometheus JMX exporter (`io.prometheus.jmx:jmx_prometheus_javaagent`, Maven Central) as
a java agent in a JVM the harness starts (a broker, MirrorMaker 2): it serves the JVM's MBeans
as Prometheus metrics on 127.0.0.1, filtered by the rule file kept beside this module."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from replaybench.clusters.artifacts import MavenArtifacts

JMX_EXPORTER_VERSION = "1.0.1"   # the newest 1.x this machine's Maven Central serves


def exporter_artifacts() -> MavenArtifacts:
    """One shaded jar: nothing else to fetch."""
    return MavenArtifacts(
        name=f"jmx-exporter-{JMX_EXPORTER_VERSION}",
        coordinates=(f"io.prometheus.jmx:jmx_prometheus_javaagent:{JMX_EXPORTER_VERSION}",),
        transitive=False)


def rules_path() -> Path:
    """The rule file: what is exported (docs/monitoring.md lists it)."""
    return Path(str(resources.files("replaybench.clusters") / "jmx_exporter_rules.yaml"))


def agent_option(cache_dir: Path, port: int) -> str:
    """The JVM option that serves the metrics on http://127.0.0.1:port/metrics."""
    jar = next(exporter_artifacts().fetch(cache_dir).glob("jmx_prometheus_javaagent-*.jar"))
    return f"-javaagent:{jar}=127.0.0.1:{port}:{rules_path()}"
