"""The thresholds a team owns for its go/no-go (a small YAML file), with documented defaults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from replaybench.errors import UsageError
from replaybench.strict_yaml import read_mapping
from replaybench.validation import shown_key
from replaybench.verdicts import client_bound, interference, observability

# Checks whose failure or absence blocks a stateful job (docs/scorecard.md): its changelog
# (compaction), its exactly-once processing (transactions), its restarts (groups, offsets).
DEFAULT_REQUIRED = ("idempotent_producer", "transactions", "consume_transform_produce",
                    "consumer_groups", "offsets", "compaction", "kafka_streams")


class ThresholdsError(UsageError):
    """A thresholds file that cannot be used."""


@dataclass(frozen=True)
class Thresholds:
    recovery_objective_s: float = 900.0     #: a restore must finish within this (15 min)
    interference_budget: float = 2.0        #: storm p99 / baseline p99 of live produce
    state_size_bytes: float | None = None   #: the state to judge; None: the measured one only
    cost_ceiling: float | None = None       #: per restore, in the price sheet's currency
    price_sheet: Path | None = None         #: over the default sheet
    required_checks: tuple[str, ...] = DEFAULT_REQUIRED
    #: where the judges draw their lines (`rejudge`): the restore's bound-by judge ...
    restore_judge: client_bound.Limits = field(default_factory=client_bound.Limits)
    #: ... the interference judge, and a migration's duplicates bound (None: the workload's)
    interference_judge: interference.Limits = field(default_factory=interference.Limits)
    migration_max_duplicates: int | None = None
    #: ... and whether the platform's own metrics showed the restore and the faults
    observability_judge: observability.Limits = field(default_factory=observability.Limits)


_FIELDS = ("recovery_objective", "interference_budget", "state_size", "cost_ceiling",
           "price_sheet", "required_checks", "restore_judge", "interference_judge",
           "migration_max_duplicates", "observability_judge")


def load(path: Path | None) -> Thresholds:
    if path is None:
        return Thresholds()
    from replaybench.analysis.plan import PlanError, parse_duration, parse_size
    data = read_mapping(path, "thresholds", ThresholdsError)
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        raise ThresholdsError(f"{path}: unknown field {shown_key(unknown[0])}; known: "
                              f"{', '.join(_FIELDS)}")
    try:
        return Thresholds(
            parse_duration(str(data.get("recovery_objective", "900s")), "recovery_objective"),
            _positive(path, "interference_budget", data.get("interference_budget", 2.0)),
            parse_size(str(data["state_size"]), "state_size") if "state_size" in data else None,
            _positive(path, "cost_ceiling", data["cost_ceiling"]) if "cost_ceiling" in data else None,
            Path(path).parent / data["price_sheet"] if "price_sheet" in data else None,
            _checks(path, data.get("required_checks", list(DEFAULT_REQUIRED))),
            _limits(path, "restore_judge", data.get("restore_judge", {}), client_bound.Limits),
            _limits(path, "interference_judge", data.get("interference_judge", {}),
                    interference.Limits),
            _count(path, data["migration_max_duplicates"])
            if "migration_max_duplicates" in data else None,
            _limits(path, "observability_judge", data.get("observability_judge", {}),
                    observability.Limits))
    except PlanError as exc:
        raise ThresholdsError(f"{path}: {exc}") from None


def _positive(path: Path, name: str, value) -> float:
    if isinstance(value, str):
        value = _number(value)   # YAML 1.1 reads 1.0e9 (no sign in the exponent) as text
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ThresholdsError(f"{path}: {name}: {value!r} is not a positive number")
    return float(value)


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def _limits(path: Path, name: str, data, kind: type):
    """A judge's section: each field a positive number, known fields only."""
    known = [f.name for f in fields(kind)]
    if not isinstance(data, dict):
        raise ThresholdsError(f"{path}: {name}: expected a mapping of {', '.join(known)}")
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ThresholdsError(f"{path}: {name}: unknown field {shown_key(unknown[0])}; known: "
                              f"{', '.join(known)}")
    return kind(**{k: _positive(path, f"{name}.{k}", v) for k, v in data.items()})


def _count(path: Path, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ThresholdsError(f"{path}: migration_max_duplicates: {value!r} is not a count "
                              f"of records (0 or more)")
    return value


def _checks(path: Path, value) -> tuple[str, ...]:
    from replaybench.results.compat_results import CHECKS
    if not isinstance(value, list) or any(v not in CHECKS for v in value):
        bad = value if not isinstance(value, list) else next(v for v in value if v not in CHECKS)
        raise ThresholdsError(f"{path}: required_checks: {bad!r} is not a check; known: "
                              f"{', '.join(CHECKS)}")
    return tuple(value)
