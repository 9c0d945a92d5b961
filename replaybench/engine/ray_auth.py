"""Joining an existing Ray cluster: its token found where Ray's own tools find it, and one line
naming the address and the reason when the cluster cannot be reached or refuses to let us in.

Ray (2.52+) authenticates with a static token when RAY_AUTH_MODE=token. Its `ray start` turns
token mode on by itself when a token exists, but `ray.init(address=...)` with an explicit
address does not: a driver on the head machine is refused by its own cluster. replaybench
turns it on the way `ray start` does, when RAY_AUTH_MODE is unset and a token is found.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from replaybench.errors import UsageError

REACH_TIMEOUT_S = 5.0


class RayClusterError(UsageError):
    """A Ray cluster that cannot be joined; nothing has been started."""


def token_source() -> str | None:
    """Where Ray would read its token from, in Ray's order; None: no token here."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"RAY_AUTH_TOKEN_PATH ({os.environ['RAY_AUTH_TOKEN_PATH']})"
    default = Path.home() / ".ray" / "auth_token"
    try:
        return str(default) if default.read_text().strip() else None
    except OSError:
        return None


def prepare(address: str) -> str:
    """Set up this process's Ray authentication for `address`, before Ray reads its config;
    returns how it will authenticate, for the manifest (never the token itself)."""
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode:
        return f"RAY_AUTH_MODE={mode}"
    source = token_source()
    if source is None:
        return "no token (none in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)"
    os.environ["RAY_AUTH_MODE"] = "token"
    if "ray" in sys.modules:
        # Ray read its config when it was imported: refresh it, as Ray's own token setup does
        from ray._raylet import Config
        Config.initialize("")
    return f"token from {source}"


def join(ray, address: str) -> None:
    """ray.init on the cluster at `address`, or one line saying why not."""
    if address != "auto" and "://" not in address:
        _reachable(address)
    with _stderr_kept() as kept:
        try:
            ray.init(address=address, configure_logging=False, log_to_driver=False,
                     logging_level="ERROR")
        except Exception as exc:  # noqa: BLE001 - ConnectionError, AuthenticationError, ...
            said = next((line for line in reversed(kept.read_text().splitlines())
                         if line.strip()), "")
            raise RayClusterError(f"cannot join the Ray cluster at {address}: "
                                  f"{_reason(exc, said)}") from None


@contextmanager
def _stderr_kept():
    """Ray's C++ client writes every refused retry to stderr (fd 2) as it happens; while
    joining, those lines go to a temp file, and the last one is quoted if the join fails."""
    with tempfile.TemporaryDirectory(prefix="rb-ray-join-") as folder:
        kept = Path(folder) / "stderr"
        saved = os.dup(2)
        try:
            with open(kept, "wb") as sink:
                os.dup2(sink.fileno(), 2)
                yield kept
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise RayClusterError(f"--ray-address {address!r}: expected HOST:PORT, auto, or a "
                              "ray:// address")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), REACH_TIMEOUT_S).close()
    except OSError as exc:
        raise RayClusterError(f"cannot reach the Ray cluster at {address} within "
                              f"{REACH_TIMEOUT_S:.0f} s ({exc.strerror or exc})") from None


def _reason(exc: Exception, said: str) -> str:
    """It answered on its port (checked before), so a refusal is most likely its token."""
    said = " ".join((said.split("] ", 1)[-1] or str(exc)).split())[:200] or type(exc).__name__
    source = token_source()
    if os.environ.get("RAY_AUTH_MODE") == "token":
        hint = f"it refused the token from {source or 'RAY_AUTH_MODE=token, but none found'}"
    else:
        hint = ("it may want a token, and none was found (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, "
                "~/.ray/auth_token; `ray get-auth-token` on the head prints it)")
    # Ray itself gives up after about 20 s of retries
    return f"not let in; {hint} (Ray: {said})"
