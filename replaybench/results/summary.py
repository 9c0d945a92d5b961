"""The figures a run is judged by, computed from its RunRecord: restore time and throughput per
group, live latency per phase and how much the storm inflated it, and the verification verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from replaybench.results.run_record import RunRecord
from replaybench.verdicts.interference import (
    DEFAULT_LIMITS,
    ROLES,
    Comparison,
    Limits,
    PhaseLatency,
    judge_role,
)


@dataclass(frozen=True)
class GroupFigures:
    group: int
    restore_time_s: float        #: 0: never caught up
    mb_per_s: float
    records_per_s: float
    records: int
    bytes: int
    verdict: str = ""            #: host-, client- or cluster-bound (client_bound.py)
    verdict_reasons: str = ""
    mode: str = "verify"         #: verify (own changelog) or replay (an existing topic)
    keys: int | None = None      #: replay: distinct keys
    dead_keys: int | None = None  #: replay: keys whose last record is a tombstone
    time_to_running_s: float | None = None   #: kafka-streams: loss of state to RUNNING
    lost_updates: int | None = None          #: kafka-streams
    double_applied_updates: int | None = None
    client: str = ""             #: the readers' consumer: native, confluent-kafka, kafka-streams
    readers: int = 0             #: how many (kafka-streams: the application's instances)


@dataclass(frozen=True)
class Summary:
    groups: list[GroupFigures]
    live: dict[str, dict[str, int]] = field(default_factory=dict)  #: "phase role" -> p99/p99.9
    interference: dict[str, float] = field(default_factory=dict)   #: storm / baseline ratios
    #: every storm / reference comparison with its verdict (interference.py)
    comparisons: list[Comparison] = field(default_factory=list)
    verification_passed: bool = True
    failed_checks: list[str] = field(default_factory=list)
    checks: int = 0                                                #: 0: verification never ran

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(record: RunRecord, limits: Limits = DEFAULT_LIMITS) -> Summary:
    """`limits`: the interference judge's (a stored run judged again may bring its own)."""
    groups = []
    for g in record.groups:
        seconds = g["restore_time_ns"] / 1e9
        groups.append(GroupFigures(g["group"], seconds,
                                   g["bytes"] / 1e6 / seconds if seconds else 0.0,
                                   g["records"] / seconds if seconds else 0.0,
                                   g["records"], g["bytes"], g.get("verdict", ""),
                                   g.get("verdict_reasons", ""), g.get("mode", "verify"),
                                   g.get("keys"), g.get("dead_keys"),
                                   g["time_to_running_ns"] / 1e9 if g.get("time_to_running_ns")
                                   else None, g.get("lost_updates"),
                                   g.get("double_applied_updates"),
                                   g.get("reader_client", ""), g.get("readers", 0)))
    live, interference = {}, {}
    for role in ("producer", "consumer"):
        for phase in ("baseline", "storm", "recovery"):
            hist = record.latency(phase, role)
            if hist.count:
                live[f"{phase} {role}"] = {"count": hist.count, "p99_ns": hist.percentile(99.0),
                                           "p99_9_ns": hist.percentile(99.9)}
        base, storm = live.get(f"baseline {role}"), live.get(f"storm {role}")
        if base and storm:
            for p in ("p99_ns", "p99_9_ns"):
                if base[p]:
                    interference[f"{role} {p[:-3]}"] = storm[p] / base[p]
    failed = [f"{v['scope']}.{v['check']}: expected {v['expected']}, got {v['observed']}"
              for v in record.verification if not v["passed"]]
    comparisons = _whose(record, [c for role in ROLES
                                  for c in judge_role(role, _phases(record, role), 0, limits)])
    return Summary(groups, live, interference, comparisons, not failed, failed,
                   len(record.verification))


SATURATED = "on a saturated host"   #: how an interference verdict on such a host begins


def _whose(record: RunRecord, comparisons: list[Comparison]) -> list[Comparison]:
    """Interference measured while the harness saturated the machine (a host-bound restore)
    is the host's: each such verdict says so, with the restore's evidence."""
    host = next((g for g in record.groups if g.get("verdict") == "host-bound"), None)
    if host is None:
        return comparisons
    why = str(host.get("verdict_reasons") or "").split(";")[0]
    note = (f"{SATURATED}: the restore was host-bound ({why}), so this is the load "
            "machine's interference, not the platform's; run the readers on other cores or "
            "machines to judge the platform")
    return [replace(c, reason=f"{note}; {c.reason}" if c.reason else note)
            if c.verdict == "interference" else c for c in comparisons]


def verdict_of(summary: Summary, role: str, stat: str) -> Comparison | None:
    """The overall verdict shown beside a role's storm / baseline ratio."""
    return next((c for c in summary.comparisons
                 if (c.role, c.stat, c.reference) == (role, stat, "overall")), None)


def _phases(record: RunRecord, role: str) -> dict[str, PhaseLatency]:
    return {phase: PhaseLatency(record.latency(phase, role),
                                record.latency_ticks.get((phase, role), []),
                                record.latency(phase, "producer", "sent_intended"),
                                record.latency(phase, role, "hiccup"))
            for phase in ("baseline", "storm", "recovery") if record.latency(phase, role).count}
