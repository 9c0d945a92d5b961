"""What an embedded cluster does once the seed is written, and what a tiered one proves after
the run: that the restore read the remote tier."""

from __future__ import annotations

import json
import os
import time
from typing import Any

TIERED_OFFLOAD_TIMEOUT_S = 120.0


def settle_after_seed(cluster, changelog: str, tiered: bool) -> dict[str, Any]:
    """Flush the seed to disk: a local broker's freshly written changelog sits in dirty pages
    that the kernel writes back ~30 s later, in the middle of whatever phase runs then. On
    Tiered Storage also wait until the local logs were trimmed, so that the restore must read
    the remote tier. Returns what it saw, for the event log."""
    os.sync()
    if not tiered:
        return {}
    deadline = time.monotonic() + TIERED_OFFLOAD_TIMEOUT_S
    starts = cluster.local_log_start_offsets(changelog)
    while time.monotonic() < deadline and not (starts and all(starts.values())):
        time.sleep(1.0)
        starts = cluster.local_log_start_offsets(changelog)
    return {"local_log_start_offsets": starts,
            "remote_fetch_before": cluster.remote_fetch_counts()}


def remote_tier_proof(events: list[dict], cluster) -> dict[str, Any]:
    """Two proofs that the restore read the remote tier. Records below every broker's local log
    start at storm start were on the remote tier only, so a restore from offset 0 had to fetch
    them there; and the brokers' own remote-fetch counters (JMX) rose by that much.
    `events`: the run's event rows (seed_flushed and targets are read)."""
    flushed = next((e for e in events if e["kind"] == "seed_flushed"), None)
    targets = next((e for e in events if e["kind"] == "targets"), None)
    if not flushed or not targets:
        return {}
    seen = json.loads(flushed["detail"])
    starts = {int(k): v for k, v in seen.get("local_log_start_offsets", {}).items()}
    ends = {int(k): v for k, v in json.loads(targets["detail"])["offsets"].items()}
    remote_only = sum(min(starts.get(p, 0), end) for p, end in ends.items())
    return {"local_log_start_offsets": starts, "records_only_in_remote_tier": remote_only,
            "share_of_restore": remote_only / max(sum(ends.values()), 1),
            "broker_remote_fetch": _remote_fetch_delta(seen.get("remote_fetch_before", {}),
                                                       cluster)}


def _remote_fetch_delta(before: dict, cluster) -> dict:
    """RemoteFetchBytes/RequestsPerSec counts from the seed flush to the end of the run, summed
    over brokers. A broker restarted meanwhile counts from its restart: a lower bound."""
    try:
        after = cluster.remote_fetch_counts()
    except Exception as exc:  # noqa: BLE001 - a broker gone at the end: say so, keep the rest
        return {"error": f"{type(exc).__name__}: {exc}"}
    per_broker = {}
    for node, now in after.items():
        then = before.get(str(node), {})
        per_broker[node] = {k: v - then.get(k, 0) if v >= then.get(k, 0) else v
                            for k, v in now.items()}
    return {"bytes": sum(b["bytes"] for b in per_broker.values()),
            "requests": sum(b["requests"] for b in per_broker.values()),
            "per_broker": per_broker,
            "source": "JMX kafka.server:type=BrokerTopicMetrics,name=RemoteFetch{Bytes,Requests}"
                      "PerSec Count, read through the Jolokia agent"}
