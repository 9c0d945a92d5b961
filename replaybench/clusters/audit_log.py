"""Who really did what on a secured broker, read from the broker's own authorizer log.

A sasl_ssl embedded cluster logs every authorization decision of the standard authorizer
(`kafka.authorizer.logger` at DEBUG, kafka_config.log4j2_properties) to logs/authorizer.log,
one line each:

    1733445600123 Principal = User:reader is Allowed operation = Read from host = 127.0.0.1
    on resource = Topic:LITERAL:rb-…-changelog for request = Fetch with resourceRefCount = 1 …

This reads those lines back: per principal, what it was allowed and denied, so that a run can
show (and a test can check) which logins touched which topics, instead of trusting the grants
the harness meant to give.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

_DECISION = re.compile(
    r"^(?P<ms>\d+) Principal = (?P<principal>\S+) is (?P<decision>Allowed|Denied) "
    r"operation = (?P<operation>\S+) from host = \S+ on resource = "
    r"(?P<kind>\w+):(?:LITERAL|PREFIXED):(?P<name>\S+)")


def decisions(lines: Iterable[str], since_ns: int = 0, until_ns: int | None = None
              ) -> dict[str, dict[str, set[str]]]:
    """principal -> {"allowed": {"Read Topic:name", …}, "denied": {…}} for the decisions
    logged between since_ns and until_ns (wall-clock ns; None: no end). Other lines are
    skipped: a log4j status line or a truncated last line says nothing about access."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"allowed": set(),
                                                                 "denied": set()})
    for line in lines:
        m = _DECISION.match(line)
        if not m:
            continue
        t_ns = int(m["ms"]) * 1_000_000
        if t_ns < since_ns or (until_ns is not None and t_ns > until_ns):
            continue
        seen[m["principal"]][m["decision"].lower()].add(
            f"{m['operation']} {m['kind']}:{m['name']}")
    return dict(seen)


def read(paths: Iterable[Path], since_ns: int = 0, until_ns: int | None = None
         ) -> dict[str, dict[str, list[str]]]:
    """The decisions of every broker's log in `paths`, merged, as sorted lists (for the
    manifest). A broker whose log is missing (replaced, never started) adds nothing."""
    merged: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"allowed": set(),
                                                                   "denied": set()})
    for path in paths:
        try:
            with path.open(encoding="utf-8", errors="replace") as lines:
                found = decisions(lines, since_ns, until_ns)
        except FileNotFoundError:
            continue
        for principal, kinds in found.items():
            for decision, actions in kinds.items():
                merged[principal][decision] |= actions
    return {p: {d: sorted(a) for d, a in kinds.items() if a} for p, kinds in sorted(merged.items())}
