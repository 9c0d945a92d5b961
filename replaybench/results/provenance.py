"""Which software and machine produced a result: stored in every run's and compat result's
manifest so that two results can be told apart."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from replaybench import __version__
from replaybench.format import core

_LIBRARIES = ("confluent-kafka", "numpy", "pyarrow", "ray", "hdrhistogram", "click", "Cython")


def versions() -> dict[str, str]:
    import confluent_kafka
    out = {"replaybench": __version__, "python": platform.python_version(),
           "librdkafka": confluent_kafka.libversion()[0],
           "core": "compiled" if core.implementation().__name__.endswith("_core") else "fallback"}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def host() -> dict[str, Any]:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = 0
    return {"hostname": socket.gethostname(), "cpus": os.cpu_count(), "memory_bytes": memory,
            "platform": platform.platform()}


def git_commit() -> str | None:
    """The replaybench checkout's commit, if it is one (with `+dirty` for local changes)."""
    root = Path(__file__).resolve().parents[2]   # the repository (replaybench/results/..)
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "replaybench",
                                "ext"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
