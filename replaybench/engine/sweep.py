"""`replaybench sweep`: every combination of the varied fields, each run into one results set
and tagged with its values, so compare, history and plan can read them together."""

from __future__ import annotations

import dataclasses
import itertools
import time
from pathlib import Path

from replaybench.engine import runner, workload
from replaybench.errors import UsageError


class SweepError(UsageError):
    """A --vary that cannot be used."""


def parse_vary(items: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    out = []
    for item in items:
        field, sep, values = item.partition("=")
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not field or not choices:
            raise SweepError(f"--vary {item!r}: expected FIELD=V1,V2,..., e.g. storm.readers=1,2,4")
        out.append((field, choices))
    return out


def combinations(vary: list[tuple[str, list[str]]]) -> list[tuple[tuple[str, str], ...]]:
    fields = [f for f, _ in vary]
    return [tuple(zip(fields, values)) for values in itertools.product(*(v for _, v in vary))]


def sweep(base: runner.RunRequest, vary: list[tuple[str, list[str]]], repeat: int = 1,
          display: runner.Display | None = None) -> tuple[Path, list[runner.RunOutcome]]:
    combos = combinations(vary)
    for combo in combos:  # every combination must be a valid workload before anything runs
        workload.load(base.workload, [*base.overrides, *(f"{k}={v}" for k, v in combo)], base.scale)
    sweep_dir = base.results_dir / f"sweep-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    outcomes = []
    # round by round: each round runs every combination once, so that a drift of the machine
    # over the sweep (another job, a warming disk cache) falls on all of them alike
    for rep in range(repeat):
        for combo in combos:
            tags = (*combo, ("sweep", sweep_dir.name), ("repetition", str(rep)))
            request = dataclasses.replace(
                base, overrides=(*base.overrides, *(f"{k}={v}" for k, v in combo)),
                results_dir=sweep_dir, tags=tags)
            outcomes.append(runner.run(request, display))
    return sweep_dir, outcomes
