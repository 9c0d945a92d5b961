"""Server processes controlled strictly by process id.

A `ServerProcess` may have been started by this Python process (then it holds the Popen and
reaps it) or by an earlier one, such as `replaybench cluster up` (then only the pid is known).
Before signalling a pid we check that its command line still carries our marker, so a pid
reused by the OS is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from replaybench.clusters.cpu_budget import pinned_to
from replaybench.errors import ClusterError

_NS_PER_S = 1_000_000_000


class ServerProcess:
    """One server process, addressed by pid, identified by a marker in its command line."""

    def __init__(self, pid: int, marker: str, popen: subprocess.Popen | None = None) -> None:
        self.pid = pid
        #: a string that appears in the process's command line (e.g. its config path)
        self.marker = marker
        self._popen = popen

    @classmethod
    def spawn(cls, argv: list[str], marker: str, log_path: Path, cwd: Path,
              cpus: frozenset[int] | None = None,
              env: dict[str, str] | None = None) -> ServerProcess:
        """Start argv in its own session (so a CLI that exits does not take it down), on
        `cpus` only when given (cpu_budget.py); env: its whole environment (None: ours)."""
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=pinned_to(cpus),
                env=env,
            )
        return cls(popen.pid, marker, popen)

    def state(self) -> str | None:
        """The kernel's one-letter state (R, S, T, Z, ...), or None if this is not our process."""
        if self._popen is not None:
            # Our own child: its pid cannot be reused before we reap it, so poll() decides.
            # (Its cmdline can be briefly empty while the java launcher re-executes itself.)
            if self._popen.poll() is not None:
                return None
            return self._read_state() or "R"
        try:
            if self.marker.encode() not in Path(f"/proc/{self.pid}/cmdline").read_bytes():
                return None
        except OSError:
            return None
        return self._read_state()

    def _read_state(self) -> str | None:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        # The state follows the parenthesised command name, which may itself contain spaces.
        return stat.rsplit(")", 1)[1].split()[0]

    def exit_status(self) -> str:
        """How our own child ended ("" while it runs, or when it is not our child)."""
        code = self._popen.poll() if self._popen is not None else None
        if code is None:
            return ""
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def alive(self) -> bool:
        state = self.state()
        return state is not None and state not in ("Z", "X")

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def pause(self, timeout_s: float = 5.0) -> None:
        """SIGSTOP, returning once the kernel reports the process stopped (delivery is async)."""
        self.signal(signal.SIGSTOP)
        self._wait_state(lambda s: s == "T", timeout_s)

    def resume(self, timeout_s: float = 5.0) -> None:
        self.signal(signal.SIGCONT)
        self._wait_state(lambda s: s != "T", timeout_s)

    def _wait_state(self, ok, timeout_s: float) -> None:
        """Until the kernel reports the wanted state; a process still elsewhere after
        timeout_s is an error (a drill that silently did not happen would be measured as one
        that did)."""
        deadline = time.monotonic_ns() + int(timeout_s * _NS_PER_S)
        state = self.state()
        while time.monotonic_ns() < deadline:
            state = self.state()
            if state is None or ok(state):
                return
            time.sleep(0.005)
        raise ClusterError(f"pid {self.pid}: still in state {state!r} {timeout_s:g} s after "
                           "the signal")

    def wait_gone(self, timeout_s: float) -> bool:
        """Wait until the process has exited; True if it did within the timeout."""
        deadline = time.monotonic_ns() + int(timeout_s * _NS_PER_S)
        while time.monotonic_ns() < deadline:
            if not self.alive():
                self._reap()
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within timeout_s."""
        self.terminate()
        if not self.wait_gone(timeout_s):
            self.kill()

    def terminate(self) -> None:
        """Ask for a clean exit without waiting. A paused process is resumed first, or it could
        not act on SIGTERM."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL and wait for the process to be gone."""
        self.signal(signal.SIGKILL)
        self.wait_gone(10.0)

    def _reap(self) -> None:
        if self._popen is not None:
            try:
                self._popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass


def read_end(path: Path, max_bytes: int = 1 << 20) -> str:
    """The last max_bytes of a text file ('' if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def tail(path: Path, lines: int = 15) -> str:
    """The last `lines` lines of a text file, or a note that it is missing."""
    text = read_end(path, 64 * 1024)
    return "\n".join(text.splitlines()[-lines:]) if text else f"(no log at {path})"


def find_by_marker(marker: str) -> list[ServerProcess]:
    """Every live process whose command line contains marker (e.g. a cluster's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            proc = ServerProcess(int(entry.name), marker)
            if proc.alive():
                found.append(proc)
    return found
