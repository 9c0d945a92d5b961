"""Finding the JDK and fetching pinned Kafka jars from Maven Central into a per-version cache.

The cache lives outside the repository (default ~/.cache/replaybench, or $REPLAYBENCH_CACHE),
one folder per artifact set and version; a folder is used only once a completed fetch has
written its marker, so later starts work offline.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from replaybench.errors import ClusterError

KAFKA_VERSION = "4.3.1"
# log4j-slf4j-impl binds Kafka's SLF4J-1 logging to log4j2; without it the broker logs nothing.
LOG4J_VERSION = "2.24.3"
MIN_JAVA_MAJOR = 17

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>replaybench.cache</groupId>
  <artifactId>{name}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""
_DEPENDENCY = (
    "    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
    "<version>{v}</version>{classifier}</dependency>"
)


def _dependency(coordinate: str) -> str:
    g, a, v, *rest = coordinate.split(":")
    return _DEPENDENCY.format(g=g, a=a, v=v, classifier=f"<classifier>{rest[0]}</classifier>"
                              if rest else "")


def default_cache_dir() -> Path:
    return Path(os.environ.get("REPLAYBENCH_CACHE") or Path.home() / ".cache" / "replaybench")


@dataclass(frozen=True)
class Java:
    path: str
    major: int


def find_java() -> Java:
    """The JDK to run brokers with: $JAVA_HOME/bin/java, else `java` on PATH; must be >= 17."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not os.access(candidate, os.X_OK):
        where = f"JAVA_HOME={home}" if home else "PATH"
        raise ClusterError(f"java not found on {where}: install a JDK {MIN_JAVA_MAJOR}+ "
                           "(e.g. apt-get install openjdk-17-jdk-headless)")
    out = subprocess.run([candidate, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        raise ClusterError(f"could not read the Java version from {candidate} -version")
    major = int(match.group(1))
    if major == 1:  # "1.8.0_x" style
        major = int(match.group(2))
    if major < MIN_JAVA_MAJOR:
        raise ClusterError(f"java at {candidate} is version {major}; Kafka {KAFKA_VERSION} "
                           f"needs {MIN_JAVA_MAJOR}+")
    return Java(candidate, major)


def kafka_opts() -> list[str]:
    """Extra JVM options for every Kafka JVM replaybench starts here (brokers and their tools,
    the Kafka Streams application, MirrorMaker), from KAFKA_OPTS as Kafka's own scripts take
    them: after replaybench's flags, so that they win. Recorded in the manifest (host)."""
    return shlex.split(os.environ.get("KAFKA_OPTS", ""))


@dataclass(frozen=True)
class MavenArtifacts:
    """A named set of Maven coordinates fetched with their runtime dependencies."""

    name: str
    coordinates: tuple[str, ...]  # "group:artifact:version[:classifier]"
    transitive: bool = True       # False: only the named jars (their dependencies are elsewhere)
    #: "group" or "group:artifact" left out, with what they bring: jars the JVM that loads
    #: these already has (its logging API), or that they would bring for nothing
    excludes: tuple[str, ...] = ()

    def fetch(self, cache_dir: Path) -> Path:
        """Return the folder holding every jar, fetching it with Maven on first use."""
        target = cache_dir / "maven" / self.name
        libs = target / "libs"
        marker = target / ".complete"
        if marker.exists():
            return libs
        mvn = shutil.which("mvn")
        if not mvn:
            raise ClusterError(f"{self.name} jars are not cached in {target} and `mvn` is not "
                               "on PATH to fetch them (apt-get install maven)")
        target.mkdir(parents=True, exist_ok=True)
        # A folder of its own per fetch (its POM and jars): test workers may fetch at once on
        # a fresh machine; the first to finish puts its jars in place, the others drop theirs.
        staging = Path(tempfile.mkdtemp(dir=target, prefix="libs.partial-"))
        try:
            self._fetch_into(mvn, staging)
            try:
                (staging / "libs").rename(libs)   # atomic: `libs` only ever appears complete
            except OSError:
                if not libs.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        marker.write_text("\n".join(self.coordinates) + "\n")
        return libs

    def _fetch_into(self, mvn: str, staging: Path) -> None:
        (staging / "pom.xml").write_text(_POM.format(name=self.name, dependencies="\n".join(
            _dependency(c) for c in self.coordinates)))
        result = subprocess.run(
            [mvn, "-B", "-q", "-f", str(staging / "pom.xml"), "dependency:copy-dependencies",
             f"-DoutputDirectory={staging / 'libs'}", "-DincludeScope=runtime",
             f"-DexcludeTransitive={'false' if self.transitive else 'true'}",
             *self._exclusions()],
            capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["(no output)"]
            raise ClusterError(f"fetching {self.name} with Maven failed: {last[0]}")

    def _exclusions(self) -> list[str]:
        groups = [e for e in self.excludes if ":" not in e]
        artifacts = [e.split(":")[1] for e in self.excludes if ":" in e]
        return ([f"-DexcludeGroupIds={','.join(groups)}"] if groups else []) + \
            ([f"-DexcludeArtifactIds={','.join(artifacts)}"] if artifacts else [])


def tiered_storage_artifacts(version: str = KAFKA_VERSION) -> MavenArtifacts:
    """Apache Kafka's own RemoteStorageManager, LocalTieredStorage (a remote tier in a local
    directory), shipped in kafka-storage's test jar. Aiven's S3 plugin 1.0.0, the preferred
    one, is not served by this machine's Maven Central mirror."""
    return MavenArtifacts(name=f"kafka-tiered-{version}",
                          coordinates=(f"org.apache.kafka:kafka-storage:{version}:test",),
                          transitive=False)


AWS_SDK_VERSION = "2.59.1"   # the BOM whose modules all resolve here with their dependencies


def s3_storage_artifacts(version: str = AWS_SDK_VERSION) -> MavenArtifacts:
    """The AWS SDK v2 S3 client with its Apache HttpClient 5 transport, for replaybench's S3
    RemoteStorageManager (jvm/s3rsm/). The broker loads them in the plugin's own class loader.
    Left out: SLF4J's API, so that the plugin logs through the broker's binding, and the other
    transports the SDK lists (Netty, Apache HttpClient 4, deprecated in this SDK)."""
    return MavenArtifacts(
        name=f"aws-s3-{version}",
        coordinates=(f"software.amazon.awssdk:s3:{version}",
                     f"software.amazon.awssdk:apache5-client:{version}"),
        excludes=("io.netty", "software.amazon.awssdk:netty-nio-client",
                  "software.amazon.awssdk:apache-client", "org.apache.httpcomponents:httpclient",
                  "org.apache.httpcomponents:httpcore", "org.slf4j:slf4j-api"))


def kafka_artifacts(version: str = KAFKA_VERSION) -> MavenArtifacts:
    """Kafka's broker, its stock tools (perf-test) and a log4j2 binding for SLF4J 1."""
    return MavenArtifacts(
        name=f"kafka-{version}",
        coordinates=(
            f"org.apache.kafka:kafka_2.13:{version}",
            f"org.apache.kafka:kafka-tools:{version}",
            f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
        ),
    )


def streams_artifacts(version: str = KAFKA_VERSION) -> MavenArtifacts:
    """Kafka Streams of the broker's version (with kafka-clients and RocksDB's JNI jar) and the
    log4j2 binding, for the Kafka Streams application (streams/)."""
    return MavenArtifacts(
        name=f"kafka-streams-{version}",
        coordinates=(f"org.apache.kafka:kafka-streams:{version}",
                     f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}"))
