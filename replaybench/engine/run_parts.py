"""The parts of a run the coordinator and the runner share: its topics, its restore groups,
and the error a run that cannot finish raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from replaybench.errors import RunError


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
