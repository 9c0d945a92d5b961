"""The Kafka Streams application (replaybench/jvm/streams) on this cluster: it starts,
processes its input, loses one instance's state and restores it from its changelog, and its
stores then hold exactly what was sent. It is a whole `streams-restore` run at a small size,
stored beside the compat results (its run id is the evidence)."""

from __future__ import annotations

from collections.abc import Callable

from replaybench.evaluation.probe import FAIL, PASS, UNSUPPORTED, Outcome

# A small run: what is checked is that the application works here, not how fast.
OVERRIDES = ("seed.records=10000", "seed.keys=2000", "live.rate_per_s=200", "phases.warmup_s=1",
             "phases.warmup_max_s=10", "phases.baseline_s=3",
             "phases.recovery_s=3", "phases.storm_timeout_s=120")
# What a broker says when it lacks what Kafka Streams needs (transactions, a newer API).
_REFUSED = ("UnsupportedVersionException", "does not support", "UNSUPPORTED_VERSION")


def kafka_streams(run: Callable[[tuple[str, ...]], object]) -> Outcome:
    """run: starts `streams-restore` with these overrides on the compat's cluster and returns
    its RunOutcome."""
    outcome = run(OVERRIDES)
    group = next((g for g in outcome.record.groups if g.get("engine") == "kafka-streams"), {})
    sent = (f"streams-restore, 3 instances, at_least_once, 10,000 updates of 2,000 keys; one "
            f"instance's state wiped under live input, then its changelog restored by "
            f"replaybench's readers (run {outcome.run_dir.name})")
    if outcome.status == "completed":
        return Outcome(PASS, "a real Kafka Streams 4.3 application", sent,
                       f"useful again after {group.get('restore_time_ns', 0) / 1e9:.1f} s, "
                       f"{group.get('records', 0):,} records restored; every store exact: "
                       f"{group.get('lost_updates')} updates lost, "
                       f"{group.get('double_applied_updates')} applied twice (at-least-once "
                       "allows that)")
    refused = any(marker in outcome.reason for marker in _REFUSED)
    return Outcome(UNSUPPORTED if refused else FAIL, "a real Kafka Streams 4.3 application", sent,
                   f"run {outcome.status}: {outcome.reason}", outcome.reason if refused else "")
