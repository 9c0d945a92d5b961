"""The class-data archive: written by the first JVM as it exits, mapped by the next, and never
a condition for a JVM to start (a broken archive is run without)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from replaybench.clusters.artifacts import find_java
from replaybench.clusters.jvm_archive import JvmArchive
from replaybench.clusters.local_kafka import LocalKafkaCluster

HELLO = "public class Hello { public static void main(String[] a) { System.out.println(\"hi\"); } }"


@pytest.fixture(scope="module")
def hello_jar(tmp_path_factory) -> str:
    """A one-class jar (CDS archives classes from jars only, not from class folders)."""
    java = Path(find_java().path)
    work = tmp_path_factory.mktemp("hello")
    (work / "Hello.java").write_text(HELLO)
    subprocess.run([str(java.with_name("javac")), "-d", str(work), str(work / "Hello.java")],
                   check=True)
    subprocess.run([str(java.with_name("jar")), "cf", str(work / "hello.jar"), "-C", str(work),
                    "Hello.class"], check=True)
    return str(work / "hello.jar")


def _hello(java: str, jar: str, flags: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([java, *flags, "-Xlog:class+load=info", "-cp", jar, "Hello"],
                          capture_output=True, text=True, timeout=60)


def test_the_first_jvm_writes_the_archive_and_the_next_loads_its_classes_from_it(
        tmp_path, hello_jar):
    java = find_java().path
    archive = JvmArchive(tmp_path, java, hello_jar, "hello")
    first = archive.use_or_write()
    assert archive.use_or_write() == archive.use() == []   # one writer per instance
    run = _hello(java, hello_jar, first)
    assert run.returncode == 0 and "hi" in run.stdout
    assert not archive.path.exists()       # in place only once the writer has exited...
    archive.settle()
    assert archive.path.is_file() and not list(archive.path.parent.glob(".*"))   # ...whole
    again = _hello(java, hello_jar, archive.use())
    assert again.returncode == 0
    [line] = [ln for ln in again.stdout.splitlines() if " Hello " in ln]
    assert "shared objects file" in line   # Hello came out of the archive, not the jar
    # another classpath (a new jar set) gets its own archive, not a stale one
    assert JvmArchive(tmp_path, java, hello_jar + ":x.jar", "hello").path != archive.path


def test_a_broken_archive_is_run_without(tmp_path, hello_jar):
    java = find_java().path
    archive = JvmArchive(tmp_path, java, hello_jar, "hello")
    archive.path.parent.mkdir(parents=True)
    archive.path.write_bytes(b"\0" * 4096)
    run = _hello(java, hello_jar, archive.use())
    assert run.returncode == 0 and "hi" in run.stdout
    [line] = [ln for ln in run.stdout.splitlines() if " Hello " in ln]
    assert "shared objects file" not in line


@pytest.mark.cluster
def test_a_broker_started_after_a_clean_stop_maps_the_archive(tmp_path, cache_dir):
    """On a fresh cache the first cluster's broker writes the archive as it stops; any broker
    started after maps it (seen in its memory maps, not assumed from its command line)."""
    with LocalKafkaCluster(tmp_path / "first", 1, cache_dir=cache_dir).start():
        pass
    with LocalKafkaCluster(tmp_path / "second", 1, cache_dir=cache_dir).start() as cluster:
        [pid] = cluster.server_pids().values()
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert str(cluster.archive.path) in maps


def test_a_partial_archive_whose_writer_died_is_dropped(tmp_path, hello_jar):
    java = find_java().path
    archive = JvmArchive(tmp_path, java, hello_jar, "hello")
    archive.path.parent.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = archive.path.with_name(f".{archive.path.name}.{dead.pid}.0")
    live = archive.path.with_name(f".{archive.path.name}.{os.getpid()}.7")
    orphan.write_bytes(b"x")
    live.write_bytes(b"x")
    archive.use_or_write()
    assert not orphan.exists() and live.exists()   # another live harness may still write it
