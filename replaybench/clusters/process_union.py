"""Several platforms' processes as one, for faults in a run with more than one cluster (a
migration: `source-broker-1`, `target-broker-1`, `mirror`). Each member keeps its own names
behind a prefix; an action goes to the member that owns the name."""

from __future__ import annotations

from replaybench.clusters.platform import FaultRefused, ProcessControl


class ProcessUnion(ProcessControl):
    def __init__(self, members: dict[str, ProcessControl | None]) -> None:
        """members: prefix -> a platform's processes (None: it has none faults can reach).
        A name becomes `<prefix>-<name>`; the empty prefix keeps the member's names as they
        are (the mirror is `mirror`)."""
        self._members = {prefix: control for prefix, control in members.items() if control}

    def actions(self) -> dict[str, frozenset[str]]:
        return {self._outer(prefix, name): actions
                for prefix, control in self._members.items()
                for name, actions in control.actions().items()}

    def kill(self, process: str) -> None:
        control, name = self._checked("kill", process)
        control.kill(name)

    def restart(self, process: str) -> None:
        control, name = self._checked("restart", process)
        control.restart(name)

    def replace(self, process: str) -> None:
        control, name = self._checked("replace", process)
        control.replace(name)

    def pause(self, process: str) -> None:
        control, name = self._checked("pause", process)
        control.pause(name)

    def resume(self, process: str) -> None:
        control, name = self._checked("resume", process)
        control.resume(name)

    def data_bytes(self, process: str) -> int:
        control, name = self._owner(process)
        return control.data_bytes(name)

    def startup_bytes_read(self, process: str) -> int | None:
        control, name = self._owner(process)
        return control.startup_bytes_read(name)

    def _checked(self, action: str, process: str) -> tuple[ProcessControl, str]:
        self.check(action, process)
        return self._owner(process)

    def _owner(self, process: str) -> tuple[ProcessControl, str]:
        for prefix, control in self._members.items():
            for name in control.actions():
                if self._outer(prefix, name) == process:
                    return control, name
        raise FaultRefused(f"no process {process!r} here (there are "
                           f"{', '.join(sorted(self.actions())) or 'none'})")

    @staticmethod
    def _outer(prefix: str, name: str) -> str:
        return f"{prefix}-{name}" if prefix else name
