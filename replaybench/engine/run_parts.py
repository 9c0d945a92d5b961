"""The parts of a run the coordinator and the runners share: its topics, its restore groups,
the error a run that cannot finish raises, and how a run's end is recorded."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from replaybench.errors import ReplaybenchError, RunError
from replaybench.meters.clock import Clock
from replaybench.results.run_record import RunRecord


class RunFailed(RunError):
    """The run could not finish; what it measured is still written."""


@dataclass(frozen=True)
class Topics:
    changelog: str
    live: str          #: the changelog itself when live traffic appends to it


@dataclass
class Group:
    """One restore group: its readers (actor names) and when it started and caught up."""
    index: int
    readers: list[str]
    start_ns: int = 0
    caught_up_ns: int = 0
    host_idle: list[float] = field(default_factory=list)  #: per whole tick of the restore


def measure(record: RunRecord, work: Callable[[], None]) -> None:
    """Run `work` (a run's schedule) and set the record's status and reason from how it
    ended; whatever ended it, what was measured stays in the record to be written. A user's
    Ctrl-C aborts; a run error fails with its one line; anything else (a client error, a bug)
    fails with its first line, its traceback kept in the events."""
    try:
        work()
        record.status = "completed"
    except KeyboardInterrupt:
        record.status, record.reason = "aborted", "interrupted (SIGINT)"
    except ReplaybenchError as exc:
        record.status, record.reason = "failed", str(exc)
        record.event(Clock()(), "error", message=str(exc))
    except Exception as exc:  # noqa: BLE001 - keep what was measured
        record.status, record.reason = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0]
        record.event(Clock()(), "error", message=record.reason,
                     traceback=traceback.format_exc())


def close(record: RunRecord) -> None:
    """The run's end: its last phase ends now too."""
    record.ended_ns = Clock()()
    if record.phase_bounds.get(record.phase):
        record.phase_bounds[record.phase][1] = record.ended_ns
