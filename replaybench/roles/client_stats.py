"""librdkafka statistics (statistics.interval.ms) boiled down to the gauges a tick records."""

from __future__ import annotations

import json
from collections.abc import Callable

STATS_INTERVAL_MS = 1000


class ClientStats:
    """Keeps the newest statistics JSON a client emitted; pass `.config` into the client.

    observe: also called with every parsed emission (librdkafka serves it on the thread that
    polls the client, so it may read that role's state without a lock)."""

    def __init__(self, interval_ms: int = STATS_INTERVAL_MS,
                 observe: Callable[[dict], None] | None = None) -> None:
        self._latest = ""
        self.interval_ms, self.observe = interval_ms, observe

    @property
    def config(self) -> dict:
        return {"statistics.interval.ms": self.interval_ms, "stats_cb": self._on_stats}

    def _on_stats(self, text: str) -> None:
        self._latest = text
        if self.observe is not None:
            self.observe(json.loads(text))

    def gauges(self) -> dict[str, float]:
        return summarize(self._latest) if self._latest else {}


def summarize(text: str) -> dict[str, float]:
    """Consumer lag and fetch queue summed over partitions; producer queue; broker round trip.

    The lag is the partition's end offset less the position the application has taken
    (librdkafka's consumer_lag_stored): its true lag. librdkafka's consumer_lag counts from the
    last committed offset instead, which a consumer that commits nothing never has.

    Gauges ending in `_max` merge across actors by maximum, the others by sum.
    """
    stats = json.loads(text)
    lag = fetchq = 0
    for topic in stats.get("topics", {}).values():
        for number, part in topic.get("partitions", {}).items():
            if number == "-1":  # librdkafka's internal unassigned partition
                continue
            lag += max(part.get("consumer_lag_stored", part.get("consumer_lag", -1)), 0)
            fetchq += part.get("fetchq_cnt", 0)
    rtt = [b["rtt"]["p99"] for b in stats.get("brokers", {}).values()
           if b.get("rtt", {}).get("cnt", 0) > 0]
    return {"client_lag_records": float(lag), "fetchq_msgs": float(fetchq),
            "queue_msgs": float(stats.get("msg_cnt", 0)),
            "rtt_p99_us_max": float(max(rtt, default=0))}


def fetch_state(stats: dict, topic: str, reading: set[int], queued_min_messages: int) -> str:
    """What a catch-up reader's fetcher was doing at this statistics emission.

    - "full": a partition still being read holds queued.min.messages or more in the fetch queue;
      librdkafka then stops fetching it for fetch.queue.backoff.ms. The application did not
      take records as fast as they came.
    - "idle": no request is in flight to the brokers leading the partitions still being read:
      the fetcher is waiting by its own choice (a back-off), not on the cluster.
    - "fetching": a request is in flight, or a partition has no reachable leader (a broker
      down, a leader election): the reader is waiting on the cluster.
    - "": nothing left to read, or no statistics for these partitions yet.
    """
    parts = stats.get("topics", {}).get(topic, {}).get("partitions", {})
    leaders, seen = set(), False
    for number in reading:
        part = parts.get(str(number))
        if part is None:
            continue
        seen = True
        if part.get("fetchq_cnt", 0) >= queued_min_messages:
            return "full"
        leaders.add(part.get("leader", -1))
    if not seen:
        return ""
    brokers = {b.get("nodeid"): b for b in stats.get("brokers", {}).values()}
    if any(leader < 0 or leader not in brokers or brokers[leader].get("state") not in ("UP", None)
           for leader in leaders):
        return "fetching"
    in_flight = sum(brokers[leader].get("waitresp_cnt", 0) for leader in leaders)
    return "fetching" if in_flight else "idle"
