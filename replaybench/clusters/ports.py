"""Loopback port allocation: free ports for servers, and a clear error for a taken one."""

from __future__ import annotations

import contextlib
import socket

from replaybench.errors import ClusterError

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Return `count` distinct ports that are free on 127.0.0.1 right now.

    All sockets are held open until every port is chosen, so the ports differ from each other.
    Another process may still take one before the server binds it; the launcher reports that
    from the server's own log.
    """
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def require_free(port: int, what: str) -> None:
    """Raise ClusterError naming the port if something already listens on 127.0.0.1:port."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            raise ClusterError(f"port {LOOPBACK}:{port} ({what}) is already in use") from None
