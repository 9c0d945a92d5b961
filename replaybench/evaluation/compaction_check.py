"""Log compaction, the reason a changelog stays as small as its state: after the cleaner runs
only the latest record per key survives, and tombstones eventually take their keys away."""

from __future__ import annotations

import time
from collections import defaultdict

from replaybench.evaluation.probe import FAIL, PASS, Outcome, Probe

KEYS, VERSIONS, DELETED = 50, 4, 10
# Small segments rolled at once, cleaned as soon as anything is dirty, tombstones kept 0 ms
# after their first cleaning: the cleaner's own schedule (log.cleaner.backoff.ms) is the wait.
TOPIC_CONFIGS = {"cleanup.policy": "compact", "segment.ms": "100",
                 "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "0",
                 "min.compaction.lag.ms": "0"}
ROLL_EVERY_S = 3.0   # a record now and then rolls the segment, so new dirty data stays cleanable


def compaction(probe: Probe, wait_s: float) -> Outcome:
    topic = probe.topic("compaction", configs=TOPIC_CONFIGS)
    producer = probe.producer()
    updates = [(f"k{k}".encode(), f"v{v}".encode()) for v in range(VERSIONS) for k in range(KEYS)]
    tombstones = [(f"k{k}".encode(), None) for k in range(DELETED)]
    probe.produce(producer, topic, updates + tombstones)
    sent = f"{KEYS} keys x {VERSIONS} versions, then tombstones for {DELETED} keys " \
           f"({', '.join(f'{k}={v}' for k, v in TOPIC_CONFIGS.items())})"
    started = time.monotonic()
    compacted_s = gone_s = None
    rolls = 0
    while time.monotonic() - started < wait_s:
        time.sleep(ROLL_EVERY_S)
        probe.produce(producer, topic, [(f"roll{rolls}".encode(), b"")])
        rolls += 1
        state = _by_key(probe.read_all(topic, 1))
        if compacted_s is None and _compacted(state):
            compacted_s = time.monotonic() - started
        if _tombstones_gone(state):
            gone_s = time.monotonic() - started
            compacted_s = compacted_s if compacted_s is not None else gone_s
            break
    latest_ok = all(state.get(f"k{k}", [])[-1:] == [f"v{VERSIONS - 1}"]
                    for k in range(DELETED, KEYS))
    if gone_s is not None and latest_ok:
        return Outcome(PASS, "one partition, the broker's own cleaner", sent,
                       f"one record per live key after {compacted_s:.0f} s; the {DELETED} deleted "
                       f"keys gone after {gone_s:.0f} s")
    left = sum(len(v) for k, v in state.items() if not k.startswith("roll"))
    why = (f"not compacted within {wait_s:.0f} s" if compacted_s is None else
           f"compacted after {compacted_s:.0f} s, but tombstoned keys remain after {wait_s:.0f} s")
    return Outcome(FAIL, "one partition, the broker's own cleaner", sent,
                   f"{why}: {left} records left for {KEYS} keys "
                   f"(latest value {'kept' if latest_ok else 'LOST'} for every live key)")


def _by_key(rows) -> dict[str, list[str | None]]:
    state: dict[str, list[str | None]] = defaultdict(list)
    for _, _, key, value in rows:
        state[key.decode()].append(None if value is None else value.decode())
    return state


def _compacted(state: dict[str, list]) -> bool:
    return all(len(state.get(f"k{k}", [])) <= 1 for k in range(KEYS))


def _tombstones_gone(state: dict[str, list]) -> bool:
    return _compacted(state) and not any(f"k{k}" in state for k in range(DELETED))
