"""librdkafka statistics (statistics.interval.ms) boiled down to the gauges a tick records."""

from __future__ import annotations

import json

STATS_INTERVAL_MS = 1000


class ClientStats:
    """Keeps the newest statistics JSON a client emitted; pass `.config` into the client."""

    def __init__(self) -> None:
        self._latest = ""

    @property
    def config(self) -> dict:
        return {"statistics.interval.ms": STATS_INTERVAL_MS, "stats_cb": self._on_stats}

    def _on_stats(self, text: str) -> None:
        self._latest = text

    def gauges(self) -> dict[str, float]:
        return summarize(self._latest) if self._latest else {}


def summarize(text: str) -> dict[str, float]:
    """Consumer lag and fetch queue summed over partitions; producer queue; broker round trip.

    Gauges ending in `_max` merge across actors by maximum, the others by sum.
    """
    stats = json.loads(text)
    lag = fetchq = 0
    for topic in stats.get("topics", {}).values():
        for number, part in topic.get("partitions", {}).items():
            if number == "-1":  # librdkafka's internal unassigned partition
                continue
            lag += max(part.get("consumer_lag", -1), 0)
            fetchq += part.get("fetchq_cnt", 0)
    rtt = [b["rtt"]["p99"] for b in stats.get("brokers", {}).values()
           if b.get("rtt", {}).get("cnt", 0) > 0]
    return {"client_lag_records": float(lag), "fetchq_msgs": float(fetchq),
            "queue_msgs": float(stats.get("msg_cnt", 0)),
            "rtt_p99_us_max": float(max(rtt, default=0))}
