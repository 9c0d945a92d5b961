"""What restores a run's state: one interface, a strategy per engine (replaybench's readers,
a Kafka Streams application, later others). The schedule (schedules.py) calls these at its
phases; an engine never decides what phase comes next."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from replaybench.engine.live_traffic import LiveTraffic
from replaybench.engine.run_state import RunState


class RestoreEngine(ABC):
    name: str   #: the workload's storm.engine

    def __init__(self, state: RunState, live: LiveTraffic) -> None:
        self.state, self.live = state, live

    def consumer(self) -> Callable[[int, int, int], Callable] | None:
        """What the live consumers read: (i, keys, partitions) -> their build (None: the live
        topic's tail)."""
        return None

    @abstractmethod
    def spawn(self) -> None:
        """The engine's actors, up front, so starting the restore is a call, not a process
        start."""

    def after_seed(self) -> None:  # noqa: B027 - an optional hook
        """Once the seed is written (an application processes it into its state)."""

    def tail_offsets(self) -> dict[int, int] | None:
        """Where the live consumers start."""
        return self.live.live_topic_end()

    def join_live(self) -> None:  # noqa: B027 - an optional hook
        """Once live traffic has started (an application's instances tick beside it)."""

    @property
    def restores(self) -> bool:
        """Whether this run has a restore at all (a run may be live traffic only)."""
        return True

    @abstractmethod
    def start(self) -> None:
        """The storm begins: state is lost, the restore starts."""

    def every_tick(self) -> None:  # noqa: B027 - an optional hook
        """Work due before each storm tick (staggered groups)."""

    @abstractmethod
    def caught_up(self) -> bool:
        """The restore is complete: the job would be useful again."""

    @abstractmethod
    def behind(self) -> str:
        """Why the storm timed out: who had not caught up, for the run's reason."""

    @abstractmethod
    def restored_percent(self) -> float:
        """How far the restore is, for faults triggered by restore progress."""

    def end_storm(self) -> None:  # noqa: B027 - an optional hook
        """Once caught up (and every fault done)."""

    def after_recovery(self) -> list:
        """Phases of its own after recovery (schedules.Phase), e.g. a side-by-side replay."""
        return []

    @abstractmethod
    def drained(self) -> bool:
        """Drain may end: everything written has been processed and read."""

    @abstractmethod
    def end_drain(self) -> None:
        """Stop ticking what drained."""

    @abstractmethod
    def verify(self) -> None:
        """Judge the restored state (and the live traffic) into the record."""

    def close(self) -> None:  # noqa: B027 - an optional hook
        """Before the actors are stopped, whatever ended the run."""
