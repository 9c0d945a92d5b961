"""Compiling replaybench's own Java (the Kafka Streams application, the S3 remote storage
plugin) with the machine's JDK, once per source hash, into the cache. A half-built folder is
never used: classes land under a `.partial` name and are renamed when javac succeeded."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from replaybench.errors import ClusterError


def source_digest(sources: list[Path]) -> str:
    """12 hex digits naming these sources' content (their build's cache key)."""
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]


JAR = "classes.jar"   #: with compiled(jar=True), the classes packed, inside the folder


def compiled(java: str, classpath: str, sources: list[Path], classes: Path, what: str,
             jar: bool = False) -> Path:
    """`classes`, compiling `sources` into it on first use; `what` names them in errors.
    jar: pack them into `classes/JAR` too (a JVM asked to write a class-data archive refuses
    to start with a non-empty folder on its classpath)."""
    if (classes / ".complete").exists():
        return classes
    javac = _jdk_tool(java, "javac", what)
    classes.parent.mkdir(parents=True, exist_ok=True)
    # A folder of its own per build: several test workers (or runs) may build at once on a
    # fresh machine; the first to finish puts its classes in place, the others drop theirs.
    partial = Path(tempfile.mkdtemp(dir=classes.parent, prefix=classes.name + ".partial-"))
    try:
        result = subprocess.run([str(javac), "-d", str(partial), "-cp", classpath,
                                 *map(str, sources)], capture_output=True, text=True)
        if result.returncode != 0:
            raise ClusterError(f"compiling {what} failed: {_first_line(result)}")
        if jar:
            _pack(java, partial, what)
        (partial / ".complete").write_text("\n".join(p.name for p in sources) + "\n")
        try:
            partial.rename(classes)   # atomic: `classes` only ever appears complete
        except OSError:
            if not (classes / ".complete").exists():
                raise
            # another build got there first: the same sources, so the same classes
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return classes


def _pack(java: str, folder: Path, what: str) -> None:
    tool = _jdk_tool(java, "jar", what)
    tops = sorted(p.name for p in folder.iterdir())
    result = subprocess.run([str(tool), "cf", str(folder / JAR),
                             *[arg for top in tops for arg in ("-C", str(folder), top)]],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"packing {what} failed: {_first_line(result)}")


def _first_line(result: subprocess.CompletedProcess) -> str:
    """A JDK tool's first line of complaint."""
    return ((result.stderr or result.stdout).strip().splitlines() or ["(no output)"])[0]


def _jdk_tool(java: str, name: str, what: str) -> Path:
    tool = Path(java).with_name(name)
    if not tool.exists():
        tool = Path(shutil.which(name) or "")
    if not tool.name or not tool.exists():
        raise ClusterError(f"{name} not found next to java or on PATH: {what} needs a JDK, not "
                           "only a JRE (apt-get install openjdk-17-jdk-headless)")
    return tool
