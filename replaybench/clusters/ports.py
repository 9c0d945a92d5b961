"""Loopback port allocation: free ports for servers, a clear error for a taken one, and
whether a server listens on one yet."""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

from replaybench.errors import ClusterError

LOOPBACK = "127.0.0.1"


#: server ports are drawn from here up to the kernel's ephemeral range: above the ports Ray
#: gives its workers (10002-19999 by default)
LOWEST = 20_000


def listening(port: int, timeout_s: float = 0.5) -> bool:
    """Whether a server on 127.0.0.1 takes a connection on `port` now."""
    try:
        socket.create_connection((LOOPBACK, port), timeout_s).close()
    except OSError:
        return False
    return True


def free_ports(count: int) -> list[int]:
    """Return `count` distinct ports that are free on 127.0.0.1 right now, below the kernel's
    ephemeral range.

    Below it, because a server restarted on its port (a broker after a fault) must get it back:
    inside the range, a client's own outgoing connection can take the port while the server is
    down (its clients reconnecting to 127.0.0.1:port may even be handed that very port and
    connect to themselves), and the restart fails with the port in use.

    All sockets are held open until every port is chosen, so the ports differ from each other.
    Another process may still take one before the server binds it; the launcher reports that
    from the server's own log.
    """
    low = _ephemeral_low()
    sockets: list[socket.socket] = []
    try:
        for port in random.sample(range(LOWEST, low), min(low - LOWEST, 64 * count + 64)):
            if len(sockets) == count:
                break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                s.close()
                continue
            sockets.append(s)
        while len(sockets) < count:   # nothing free below the range: let the kernel choose
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _ephemeral_low(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """The first port the kernel hands out to outgoing connections (32768 by default)."""
    try:
        low = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768
    return low if low > LOWEST + 1_000 else 32_768


def require_free(port: int, what: str) -> None:
    """Raise ClusterError naming the port if something already listens on 127.0.0.1:port.
    (Bound as the servers bind, with SO_REUSEADDR: connections of a server that just stopped,
    waiting out TIME_WAIT, do not keep the next one from its port.)"""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            raise ClusterError(f"port {LOOPBACK}:{port} ({what}) is already in use") from None
