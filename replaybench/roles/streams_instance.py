"""StreamsInstance: one instance of the Kafka Streams application (replaybench/jvm/streams), a JVM
started, watched and stopped (by pid) here, and what it reports through Kafka Streams' own hooks.

The JVM prints one JSON event per line (state transitions, restore start / batch / end) and
takes commands on stdin; when stdin closes, because this object or its actor process is gone,
the JVM closes the application and exits, so none outlives its run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from replaybench.meters.clock import Clock
from replaybench.meters.snapshots import Snapshot

MAIN_CLASS = "replaybench.streams.App"
# One changelog record of the application's store: an 8-byte key and the 24-byte aggregate.
CHANGELOG_RECORD_BYTES = 8 + 24
DUMP_TIMEOUT_S = 60.0
CLOSE_TIMEOUT_S = 40.0   # a clean stop: the application's own close takes up to 30 s
#: the end of a run: nothing is judged of its stores after, so the application gets 5 s to
#: close (then its JVM exits anyway); instances stuck in a rebalance their peer's error ended
#: held a failed run 40 s
TEARDOWN_CLOSE_S = 5
JVM_HEAP = "-Xmx384m"
# Kafka's own logging to stderr (the instance's log file), warnings and up; stdout is events.
_LOG_CONFIG = """status = error
appender.err.type = Console
appender.err.name = err
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %d %p %c{1} %m%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = err
"""


class ClassArchive(Protocol):
    """A JVM's class-data-sharing archive (clusters/jvm_archive.JvmArchive)."""

    def use(self) -> list[str]: ...

    def use_or_write(self) -> list[str]: ...

    def settle(self, whole: bool = True) -> None: ...


#: states in which the JVM has exited because it was told to, or killed by the harness
_GONE_ON_PURPOSE = ("NOT_RUNNING", "PENDING_SHUTDOWN", "KILLED", "EXITED", "STOPPED")


@dataclass
class Recovery:
    """One loss of state (this instance's, or, failing over, another's): when it happened and
    when this instance was useful again."""
    lost_ns: int
    #: True: this instance lost its state, so it has a changelog to restore; False: it takes
    #: over a dead instance's tasks, from a standby replica or by restoring them
    own_loss: bool = True
    rebalanced: bool = False   #: a rebalance began after the loss
    running_ns: int = 0        #: first RUNNING after that rebalance
    restored_ns: int = 0       #: last restore_end of the restores begun after the loss
    restoring: set[int] = field(default_factory=set)   #: partitions still restoring
    restored_records: int = 0

    @property
    def useful_ns(self) -> int:
        """RUNNING and nothing left to restore (0: not yet). With the state updater a client
        reports RUNNING while its tasks still restore, so both are needed; an instance that
        lost its state must also have finished a restore (its tasks have a changelog)."""
        if not self.running_ns or self.restoring or (self.own_loss and not self.restored_ns):
            return 0
        return max(self.running_ns, self.restored_ns)


class StreamsInstance:
    def __init__(self, java: str, classpath: str, properties: dict[str, str],
                 name: str = "streams-0", options: tuple[str, ...] = (),
                 archive: ClassArchive | None = None) -> None:
        """properties: StreamsConfig plus replaybench.input / replaybench.output; options:
        extra JVM options, after replaybench's; archive: the application's class-data archive
        (the first JVM to exit cleanly without one writes it). The instance works in a temp dir
        of its own (state.dir, its config and log), removed by close()."""
        self.name, self.java, self.classpath = name, java, classpath
        self.options, self.archive = options, archive
        self.clock = Clock()
        work_dir = self.work_dir = Path(tempfile.mkdtemp(prefix=f"rb-{name}-"))
        self.state_dir = work_dir / f"{name}-state"
        self.props_file = work_dir / f"{name}.properties"
        self.log_file = work_dir / f"{name}.log"
        self.props = {**properties, "state.dir": str(self.state_dir)}
        self.props_file.write_text("".join(f"{k}={v}\n" for k, v in self.props.items()))
        self.log_config = work_dir / "log4j2.properties"
        self.log_config.write_text(_LOG_CONFIG)
        self.proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self.events: deque[dict] = deque()
        self.history: list[dict] = []        #: every event but restore batches, for the record
        self.state = "CREATED"
        self.recoveries: list[Recovery] = []
        self._restored = 0                   #: records restored since the last snapshot
        self._errors: list[str] = []
        self._dumped: dict | None = None

    # -- process ----------------------------------------------------------------------------

    def start(self) -> int:
        """Start the JVM; returns its pid."""
        log = open(self.log_file, "ab")
        self.proc = subprocess.Popen(
            [self.java, JVM_HEAP, f"-Dlog4j2.configurationFile={self.log_config}",
             *self._archive_flags(), *self.options, "-cp", self.classpath, MAIN_CLASS,
             str(self.props_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        log.close()
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        return self.proc.pid

    def _archive_flags(self) -> list[str]:
        if self.archive is None:
            return []
        # A JVM with an agent may not write an archive; it may read one (jvm_archive.py).
        if any(o.startswith("-javaagent") for o in self.options):
            return self.archive.use()
        return self.archive.use_or_write()

    def lose_state(self, tasks_return: bool = True) -> int:
        """A crash that takes the local state with it: kill -9, wipe the state directory, start
        again. tasks_return: the restarted instance gets its tasks back (static membership)
        and must restore them; without, the assignor may leave them where they failed over.
        Returns the moment of the kill, wall clock ns."""
        lost = self.kill()
        shutil.rmtree(self.state_dir, ignore_errors=True)   # made by this instance only
        self.recoveries.append(Recovery(lost, own_loss=tasks_return))
        self.start()
        return lost

    def kill(self) -> int:
        """kill -9, as a crashed instance; returns the moment, wall clock ns."""
        now = self.clock()
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
            self._settle_archive(whole=False)
        self._drain_events()
        self._note({"e": "killed", "t": now})
        self.state = "KILLED"
        return now

    def stop(self) -> int:
        """Close the application cleanly, as an operator stops it before moving it (it commits
        and flushes its stores); the instance's folder stays. Returns the moment, wall ns."""
        now = self.clock()
        self._close_jvm()
        self._reader.join(2.0)
        self._drain_events()
        self._note({"e": "stopped", "t": now})
        self.state = "STOPPED"
        return now

    def start_on(self, properties: dict[str, str], keep_state: bool, must_restore: bool) -> int:
        """Start again against another cluster (properties: its address and login) with the
        same application id, after stop(). keep_state: with the state directory as it was
        (the same machine repointed) rather than empty (a new one); must_restore: it has a
        changelog to restore there. Returns the moment (wall ns; its recovery is measured
        from it)."""
        if not keep_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)   # made by this instance only
        self.props = {**self.props, **properties}
        self.props_file.write_text("".join(f"{k}={v}\n" for k, v in self.props.items()))
        now = self.clock()
        self.recoveries.append(Recovery(now, own_loss=must_restore))
        self.start()
        return now

    def watch_failover(self, lost_ns: int) -> None:
        """Another instance died at lost_ns: measure how long until this one, having taken
        over what it is given, is RUNNING with nothing left to restore."""
        self.recoveries.append(Recovery(lost_ns, own_loss=False))

    def close(self) -> None:
        """Close the application (at the end of a run: quickly), then remove the instance's
        temp dir."""
        self._close_jvm(TEARDOWN_CLOSE_S)
        shutil.rmtree(self.work_dir, ignore_errors=True)   # made in __init__

    def _close_jvm(self, within_s: int | None = None) -> None:
        """Ask the application to close (None: cleanly, committing and flushing; else within
        that many seconds), and kill it if its JVM does not exit in time."""
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"close\n" if within_s is None
                                      else f"close {within_s}\n".encode())
                self.proc.stdin.close()
                self.proc.wait(CLOSE_TIMEOUT_S if within_s is None else within_s + 10)
                self._settle_archive(whole=self.proc.returncode == 0)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()

    def _settle_archive(self, whole: bool) -> None:
        if self.archive is not None:
            self.archive.settle(whole)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- what it reports --------------------------------------------------------------------

    def tick(self, deadline_ns: int) -> Snapshot:
        while (remaining := deadline_ns - self.clock()) > 0:
            time.sleep(min(remaining / 1e9, 0.05))
            self._drain_events()
        self._drain_events()
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        if self.proc and self.proc.poll() is not None:
            # the JVM is gone: take every line it wrote first, its own error among them
            self._reader.join(2.0)
            self._drain_events()
        restored, self._restored = self._restored, 0
        if self.proc and self.proc.poll() is not None and not self._errors and \
                self.state not in _GONE_ON_PURPOSE:
            self._errors.append(f"{self.name}: the JVM exited ({self.proc.returncode}); "
                                f"its log ends: {self._log_tail()}")
            self.state = "EXITED"   # said once
        errors, self._errors = self._errors, []
        last = self.recoveries[-1] if self.recoveries else None
        return Snapshot("streams", self.name, self.clock(),
                        {"records": restored, "bytes": restored * CHANGELOG_RECORD_BYTES},
                        {"running": float(self.state == "RUNNING"),
                         "restoring_partitions": float(len(last.restoring) if last else 0)},
                        {}, done=bool(last and last.useful_ns), errors=errors)

    def running(self) -> bool:
        self._drain_events()
        return self.state == "RUNNING"

    def recovery_log(self) -> list[dict]:
        self._drain_events()
        return [{"lost_ns": r.lost_ns, "running_ns": r.running_ns, "restored_ns": r.restored_ns,
                 "useful_ns": r.useful_ns, "restored_records": r.restored_records}
                for r in self.recoveries]

    def event_history(self) -> list[dict]:
        self._drain_events()
        return list(self.history)

    def dump_rows(self) -> np.ndarray:
        """The instance's active store as rows (key id, version, count, intended ns)."""
        path = self.work_dir / f"store-{self.clock()}.bin"
        self._dumped = None
        self.proc.stdin.write(f"dump {path}\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + DUMP_TIMEOUT_S
        while self._dumped is None and time.monotonic() < deadline:
            time.sleep(0.05)
            self._drain_events()
        if self._dumped is None or self._dumped["e"] != "dumped":
            reason = (self._dumped or {}).get("message", f"no answer in {DUMP_TIMEOUT_S:.0f} s")
            raise RuntimeError(f"{self.name}: cannot read its store ({reason})")
        raw = np.fromfile(path, np.uint8).reshape(-1, CHANGELOG_RECORD_BYTES)
        keys = raw[:, :8].copy().view(">i8").astype(np.int64).ravel()
        agg = raw[:, 8:].copy().view("<i8").reshape(-1, 3)
        path.unlink()
        return np.column_stack([keys, agg])

    def _log_tail(self) -> str:
        """The JVM's last log line (the log goes with the instance's temp dir)."""
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1][:300] if lines else "(nothing)"

    # -- events -----------------------------------------------------------------------------

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                continue   # a stray line from a library writing to stdout

    def _drain_events(self) -> None:
        while self.events:
            self._note(self.events.popleft())

    def _note(self, event: dict) -> None:
        kind = event["e"]
        last = self.recoveries[-1] if self.recoveries else None
        if kind == "restore_batch":
            self._restored += event["records"]
            if last:
                last.restored_records += event["records"]
            return
        self.history.append(event)
        if kind == "state":
            self.state = event["new"]
            if last and event["new"] == "REBALANCING" and event["t"] >= last.lost_ns:
                last.rebalanced = True
            if last and event["new"] == "RUNNING" and last.rebalanced and not last.running_ns:
                last.running_ns = event["t"]
        elif kind == "restore_start" and last and event["t"] >= last.lost_ns:
            last.restoring.add(event["partition"])
        elif kind in ("restore_end", "restore_suspended") and last:
            last.restoring.discard(event["partition"])
            last.restored_ns = max(last.restored_ns, event["t"])
        elif kind == "error":
            self._errors.append(f"{self.name}: {event['message']}")
        elif kind in ("dumped", "dump_failed"):
            self._dumped = event
