"""The thresholds a team owns for its go/no-go (a small YAML file), with documented defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from replaybench.errors import UsageError
from replaybench.strict_yaml import read_mapping
from replaybench.validation import shown_key

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


_FIELDS = ("recovery_objective", "interference_budget", "state_size", "cost_ceiling",
           "price_sheet", "required_checks")


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
            _checks(path, data.get("required_checks", list(DEFAULT_REQUIRED))))
    except PlanError as exc:
        raise ThresholdsError(f"{path}: {exc}") from None


def _positive(path: Path, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ThresholdsError(f"{path}: {name}: {value!r} is not a positive number")
    return float(value)


def _checks(path: Path, value) -> tuple[str, ...]:
    from replaybench.results.compat_results import CHECKS
    if not isinstance(value, list) or any(v not in CHECKS for v in value):
        bad = value if not isinstance(value, list) else next(v for v in value if v not in CHECKS)
        raise ThresholdsError(f"{path}: required_checks: {bad!r} is not a check; known: "
                              f"{', '.join(CHECKS)}")
    return tuple(value)
