"""Faults: what a workload does to a cluster's server processes while the restore runs.

A fault is a small object in the spirit of Jepsen's nemesis: `setup` against the processes a
platform exposes (clusters/platform.ProcessControl; a target it lacks, or an action it cannot
take, is refused in one line before the run starts), `start` the disturbance, `stop` it,
`teardown` so the cluster is left whole whatever happened, and `describe` itself. Faults are
looked up by their action's name (FAULTS). One fault with several targets acts on all of them at
once; the workload's `faults:` list composes faults, each on its own trigger, so one can pause
the S3 server while another replaces broker 2. Each start and end is an event in the results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

from replaybench.clusters.platform import ProcessControl


class Fault(ABC):
    action: str                       #: the workload's name for it
    needs: tuple[str, ...] = ()       #: the process actions it uses

    def __init__(self, targets: list[str], duration_s: float) -> None:
        """targets: process names ("broker-2", "s3"); duration_s: how long the disturbance
        lasts before stop() (see `lasts`)."""
        self.targets, self.duration_s = list(targets), duration_s
        self.processes: ProcessControl | None = None

    def setup(self, processes: ProcessControl) -> None:
        """Check every target exists and takes what this fault does (FaultRefused if not)."""
        for target in self.targets:
            for action in self.needs:
                processes.check(action, target)
        self.processes = processes

    @property
    def lasts(self) -> bool:
        """Whether stop() ends a disturbance after duration_s (False: start() is all)."""
        return False

    @abstractmethod
    def start(self) -> None:
        """Begin the disturbance on every target at once; returns when it has begun (a
        replacement: when the new process serves)."""

    def stop(self) -> None:  # noqa: B027 - most faults have nothing to end
        """End the disturbance: the targets are back."""

    def teardown(self) -> None:  # noqa: B027 - most faults leave nothing behind
        """Leave the cluster whole even if stop() never ran (a run that failed mid-fault)."""

    def describe(self) -> str:
        held = f" for {self.duration_s:g} s" if self.lasts else ""
        return f"{self.action} {', '.join(self.targets)}{held}"

    def _each(self, act) -> None:
        """act(target) on every target at the same time; the first error is raised."""
        if len(self.targets) == 1:
            act(self.targets[0])
            return
        with ThreadPoolExecutor(len(self.targets)) as pool:
            for future in [pool.submit(act, t) for t in self.targets]:
                future.result()


class Kill(Fault):
    """SIGKILL; with a duration, restarted on its own disk after it (0: stays down)."""
    action = "kill"

    @property
    def needs(self) -> tuple[str, ...]:
        return ("kill", "restart") if self.duration_s > 0 else ("kill",)

    @property
    def lasts(self) -> bool:
        return self.duration_s > 0

    def start(self) -> None:
        self._each(self.processes.kill)

    def stop(self) -> None:
        if self.lasts:
            self._each(self.processes.restart)


class Pause(Fault):
    """SIGSTOP for duration_s, then SIGCONT: a process that holds its sockets and answers
    nothing, like a long GC pause."""
    action = "pause"
    needs = ("pause", "resume")

    def __init__(self, targets: list[str], duration_s: float) -> None:
        super().__init__(targets, duration_s)
        self.paused: set[str] = set()

    @property
    def lasts(self) -> bool:
        return True

    def start(self) -> None:
        def pause(target: str) -> None:
            self.processes.pause(target)
            self.paused.add(target)
        self._each(pause)

    def stop(self) -> None:
        def resume(target: str) -> None:
            self.processes.resume(target)
            self.paused.discard(target)
        self._each(resume)

    def teardown(self) -> None:
        for target in list(self.paused):
            self.processes.resume(target)
            self.paused.discard(target)


class Restart(Fault):
    """A clean restart on the same disk."""
    action = "restart"
    needs = ("restart",)

    def start(self) -> None:
        self._each(self.processes.restart)


class Replace(Fault):
    """A new process with an empty disk and the same identity, as for a lost machine."""
    action = "replace"
    needs = ("replace",)

    def start(self) -> None:
        self._each(self.processes.replace)


FAULTS: dict[str, type[Fault]] = {f.action: f for f in (Kill, Pause, Restart, Replace)}


def build(action: str, targets: list[str], duration_s: float) -> Fault:
    return FAULTS[action](targets, duration_s)
