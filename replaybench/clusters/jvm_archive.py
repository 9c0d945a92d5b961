"""A class-data-sharing archive (JDK AppCDS) per JVM command line, kept in the cache.

A Kafka broker loads ~6,000 classes at start: ~2 CPU-s of class loading and verification on
this 2-core machine, paid again by every broker start, restart and replacement. The first
JVM of a given (java, classpath) writes the classes it loaded into an archive when it exits
(-XX:ArchiveClassesAtExit, JDK 13+); later ones map it (-XX:SharedArchiveFile). Measured here:
a broker start from 4.4-5.5 CPU-s and 3.5-4.3 s to 2.7-3.3 CPU-s and 2.3-2.9 s.

Only class loading changes: the JIT, the GC and the heap are the same, so a broker's
figures after start are too. A JVM that finds the archive stale (another JDK, a changed jar)
says so in its log and runs without it, so the archive is a speed-up, never a condition.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import psutil


class JvmArchive:
    """One archive for JVMs started as `java` with `classpath`; `name` says what for."""

    def __init__(self, cache_dir: Path, java: str, classpath: str, name: str) -> None:
        self.path = Path(cache_dir) / "cds" / f"{name}-{_key(java, classpath)}.jsa"
        self._writing: list[Path] = []   # archives being written by JVMs started here

    def use(self) -> list[str]:
        """Flags that map the archive; none while it does not exist yet."""
        return [f"-XX:SharedArchiveFile={self.path}"] if self.path.is_file() else []

    def use_or_write(self) -> list[str]:
        """use(), or, while there is no archive and no JVM started here is writing one, flags
        that make this JVM write one as it exits (to a file of its own: JVMs of several
        clusters may be writing at once)."""
        if self.path.is_file() or self._writing:
            return self.use()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_orphans()
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.{len(self._writing)}")
        self._writing.append(partial)
        return [f"-XX:ArchiveClassesAtExit={partial}"]

    def settle(self, whole: bool = True) -> None:
        """Once the writing JVMs have exited: put the archive in place. whole=False: one was
        killed, and what it left may be cut short; it is dropped, and a later JVM writes one."""
        for partial in self._writing:
            if whole and partial.is_file() and partial.stat().st_size > 0 and \
                    not self.path.is_file():
                os.replace(partial, self.path)
            partial.unlink(missing_ok=True)
        self._writing.clear()

    def _drop_orphans(self) -> None:
        """Partial archives left by a harness that died before settle(): their writer's pid
        (in the name) is gone."""
        for partial in self.path.parent.glob(f".{self.path.name}.*"):
            pid = partial.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not psutil.pid_exists(int(pid)):
                partial.unlink(missing_ok=True)


def _key(java: str, classpath: str) -> str:
    """The JDK binary (its path and build) and the classpath: a new JDK or jar set gets its
    own archive rather than a stale one."""
    real = os.path.realpath(java)
    stat = os.stat(real)
    text = f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}\0{classpath}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
