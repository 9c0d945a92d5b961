"""A workload's `faults:` entry: what to do to which processes, and when (engine/faults.py
acts on it, engine/fault_schedule.py triggers it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_serializer, model_validator

from replaybench.validation import NonEmptyText, Strict, between


class FaultSpec(Strict):
    """A fault during the storm (engine/faults.py): at `at_s` seconds after storm start, or
    once the first restore group has read `at_restore_percent` of its target. It acts on
    `targets`, the cluster's processes by name (`broker-2`, `s3`: what the platform exposes),
    all at once; without targets, on broker `broker`. In a migration, at_s counts from the
    mirror's start, or from the start of `after_phase` (`cutover-drain`, `trial`, ...), and
    the targets are `source-broker-1`, `target-broker-1`, `mirror`."""
    action: Literal["kill", "replace", "pause", "restart"] = "kill"
    broker: between(int, 1, 9) = 1             #: node id (1..brokers on the embedded cluster)
    #: process names; empty: [broker-<broker>]
    targets: Annotated[tuple[NonEmptyText, ...], Field(strict=False)] = ()
    at_s: between(float, -1.0, 86_400.0) = -1.0             #: -1: not time-triggered
    at_restore_percent: between(float, -1.0, 100.0) = -1.0  #: -1: not progress-triggered
    duration_s: between(float, 0.0, 3_600.0) = 5.0  #: pause: how long; kill: until restart (0: stays down)
    #: a migration's phase whose start at_s counts from ("": the mirror's start)
    after_phase: str = ""

    @model_validator(mode="after")
    def _one_trigger(self) -> FaultSpec:
        if (self.at_s >= 0) + (self.at_restore_percent >= 0) != 1:
            raise ValueError("give exactly one of at_s or at_restore_percent")
        if self.targets and "broker" in self.model_fields_set:
            raise ValueError("give broker or targets, not both")
        if self.after_phase and self.at_s < 0:
            raise ValueError("after_phase counts at_s from a phase's start: give at_s")
        return self

    @model_serializer(mode="wrap")
    def _without_default_targets(self, handler) -> dict[str, Any]:
        """A fault without targets or after_phase dumps as before they existed: the spec hash,
        and so whether stored runs compare, does not change."""
        data = handler(self)
        for name in ("targets", "after_phase"):
            if not getattr(self, name):
                data.pop(name, None)
        return data

    def target_names(self) -> list[str]:
        return list(self.targets) or [f"broker-{self.broker}"]

    def broker_id(self) -> int:
        """The first broker it acts on (0: none, e.g. only the S3 server)."""
        ids = [int(t[7:]) for t in self.target_names()
               if t.startswith("broker-") and t[7:].isdigit()]
        return ids[0] if ids else 0
