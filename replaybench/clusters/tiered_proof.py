"""What an embedded cluster does once the seed is written, and what a tiered one proves after
the run: that the restore read the remote tier, and, with the remote tier on an S3 server,
that the S3 server sent at least the bytes of the remote segments the restore had to read."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from replaybench.clusters.platform import PROOF_FAILED
from replaybench.clusters.s3_server import S3Server

TIERED_OFFLOAD_TIMEOUT_S = 120.0
_TOPIC_ID = "x" * 22   # the length of a Kafka topic id as text (16 bytes, base64 unpadded)


@dataclass(frozen=True)
class RemoteBucket:
    """The remote tier's bucket on its S3 server (s3_plugin.py's key layout)."""

    server: S3Server
    name: str

    def segment_bytes_below(self, topic: str, local_starts: dict[int, int]) -> int:
        """Bytes of the topic's remote segments that start below their partition's local log
        start: a local log starts at a segment's base offset, so these hold records only the
        remote tier has. Keys: PREFIX/TOPIC-TOPICID/PARTITION/STARTOFFSET-SEGMENTID/log."""
        total = 0
        pages = self.server.client().get_paginator("list_objects_v2").paginate(Bucket=self.name)
        for obj in (o for page in pages for o in page.get("Contents", ())):
            *_, folder, partition, segment, name = obj["Key"].split("/")
            # a topic id is 22 characters of URL-safe base64, which may hold "-" itself
            if name != "log" or folder[:-len(_TOPIC_ID) - 1] != topic:
                continue
            if int(segment.split("-", 1)[0]) < local_starts.get(int(partition), 0):
                total += obj["Size"]
        return total


def settle_after_seed(cluster, changelog: str, tiered: bool,
                      bucket: RemoteBucket | None = None) -> dict[str, Any]:
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
    seen = {"local_log_start_offsets": starts,
            "remote_fetch_before": cluster.remote_fetch_counts()}
    if bucket is not None:
        seen["remote_segment_bytes"] = bucket.segment_bytes_below(changelog, starts)
        seen["object_store_before"] = bucket.server.traffic().as_dict()
    return seen


def storage_proof(events: list[dict], cluster, bucket: RemoteBucket | None) -> dict[str, Any]:
    """The manifest's `remote_tier` entry, and PROOF_FAILED when the S3 server sent less than
    the remote segments the restore had to read."""
    proof = remote_tier_proof(events, cluster)
    if bucket is None or not proof:
        return {"remote_tier": proof}
    flushed = json.loads(next(e for e in events if e["kind"] == "seed_flushed")["detail"])
    try:
        sent = bucket.server.traffic().bytes_read - flushed["object_store_before"]["bytes_read"]
    except Exception as exc:  # noqa: BLE001 - the server gone at the end: say so, keep the rest
        proof["object_store"] = {"error": f"{type(exc).__name__}: {exc}"}
        return {"remote_tier": proof}
    needed = flushed["remote_segment_bytes"]
    proof["object_store"] = {"bytes_read": sent, "remote_segment_bytes": needed,
                             "read_from_object_store": sent >= needed > 0}
    if proof["object_store"]["read_from_object_store"]:
        return {"remote_tier": proof}
    return {"remote_tier": proof, PROOF_FAILED: (
        f"the S3 server sent {sent:,} bytes from the seed's end to the run's, less than the "
        f"{needed:,} bytes of remote segments below the local logs: the restore did not read "
        "them all from the object store" if needed else
        "no remote segment lay below the local logs when the storm started: nothing had to "
        "be read from the object store")}


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
