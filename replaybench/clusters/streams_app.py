"""The Kafka Streams application (replaybench/jvm/streams/*.java), compiled at first use with
the machine's JDK against kafka-streams of the broker's Kafka version from Maven Central, and
cached by version and source hash like the broker jars. Nothing is fetched after that."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from replaybench.clusters import jvm_build
from replaybench.clusters.artifacts import KAFKA_VERSION, find_java, kafka_opts, streams_artifacts
from replaybench.clusters.jvm_archive import JvmArchive

SOURCES = Path(__file__).resolve().parent.parent / "jvm" / "streams"


@dataclass(frozen=True)
class StreamsApp:
    java: str          #: the java binary to run it with
    classpath: str     #: compiled classes, then the kafka-streams jars
    options: tuple[str, ...] = ()   #: extra JVM options (KAFKA_OPTS, artifacts.kafka_opts)
    #: its classes' sharing archive (jvm_archive.py): each instance's JVM loads ~5,000 classes
    archive: JvmArchive | None = None


def build(cache_dir: Path, version: str = KAFKA_VERSION) -> StreamsApp:
    """The compiled application, building it on first use (~10 s)."""
    java = find_java()
    libs = streams_artifacts(version).fetch(cache_dir)
    sources = sorted(SOURCES.glob("*.java"))
    classes = jvm_build.compiled(
        java.path, f"{libs}/*", sources,
        cache_dir / "streams-app" / f"{version}-{jvm_build.source_digest(sources)}-jar",
        "the Kafka Streams application", jar=True)
    classpath = f"{classes / jvm_build.JAR}:{libs}/*"
    return StreamsApp(java.path, classpath, tuple(kafka_opts()),
                      JvmArchive(cache_dir, java.path, classpath, "streams"))
