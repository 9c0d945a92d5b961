"""The Kafka Streams application (replaybench/jvm/streams/*.java), compiled at first use with
the machine's JDK against kafka-streams of the broker's Kafka version from Maven Central, and
cached by version and source hash like the broker jars. Nothing is fetched after that."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from replaybench.clusters.artifacts import KAFKA_VERSION, find_java, kafka_opts, streams_artifacts
from replaybench.errors import ClusterError

SOURCES = Path(__file__).resolve().parent.parent / "jvm" / "streams"


@dataclass(frozen=True)
class StreamsApp:
    java: str          #: the java binary to run it with
    classpath: str     #: compiled classes, then the kafka-streams jars
    options: tuple[str, ...] = ()   #: extra JVM options (KAFKA_OPTS, artifacts.kafka_opts)


def build(cache_dir: Path, version: str = KAFKA_VERSION) -> StreamsApp:
    """The compiled application, building it on first use (~10 s)."""
    java = find_java()
    libs = streams_artifacts(version).fetch(cache_dir)
    sources = sorted(SOURCES.glob("*.java"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    classes = cache_dir / "streams-app" / f"{version}-{digest}"
    if not (classes / ".complete").exists():
        _compile(java.path, libs, sources, classes)
    return StreamsApp(java.path, f"{classes}:{libs}/*", tuple(kafka_opts()))


def _compile(java: str, libs: Path, sources: list[Path], classes: Path) -> None:
    javac = Path(java).with_name("javac")
    if not javac.exists():
        javac = Path(shutil.which("javac") or "")
    if not javac.name or not javac.exists():
        raise ClusterError("javac not found next to java or on PATH: the Kafka Streams engine "
                           "needs a JDK, not only a JRE (apt-get install openjdk-17-jdk-headless)")
    partial = classes.with_name(classes.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)   # our own half-built folder from an earlier try
    partial.mkdir(parents=True)
    result = subprocess.run([str(javac), "-d", str(partial), "-cp", f"{libs}/*",
                             *map(str, sources)], capture_output=True, text=True)
    if result.returncode != 0:
        first = (result.stderr or result.stdout).strip().splitlines()[:1] or ["(no output)"]
        raise ClusterError(f"compiling the Kafka Streams application failed: {first[0]}")
    (partial / ".complete").write_text("\n".join(p.name for p in sources) + "\n")
    shutil.rmtree(classes, ignore_errors=True)
    partial.rename(classes)
