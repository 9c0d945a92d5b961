"""Was a restore held back by the harness rather than by the cluster? A pure judge over what the
readers reported about themselves (RestoreReader HOLDUP_COUNTERS and their process CPU), summed
over one restore group, and the load machine's idle CPU while it ran.

- Host saturated ("host-bound"): the load machine had almost no idle CPU during the restore and
  the readers took at least half of it. The readers, the live traffic and (embedded clusters)
  the brokers competed for its cores, so the restore time is that machine's, not the
  cluster's. The symptoms below then follow from it and are listed as evidence.

- Fetcher idle: librdkafka's fetcher had no request in flight while records were left to read:
  it was backing off (it stops fetching a partition holding queued.min.messages, for
  fetch.queue.backoff.ms) or still parsing the last response. Either way the client, not the
  cluster, set the pace.
- Fetch queue full: records waited in the client because the reader did not take them fast
  enough.
- Reader thread saturated: the reader's own thread (consume + fold) was on CPU nearly all the
  time.

Thresholds come from measurements on a 2-core machine: with librdkafka's 1 s back-off on 200 B
records the fetcher sat idle in 51-91 % of samples; with the readers' defaults one reader
16-25 %, four readers sharing the 2 cores with a local-disk broker 44-63 % (parsing), and four
readers against Tiered Storage or Tansu, which serve slower, 4-8 %. With the native consumer
(restore_batches.py) a default restore-storm on the embedded broker left the 2-core host 0-5 %
idle in every whole tick of the restore (1, 2 and 4 readers, live traffic on), against 32-40 %
in the baseline before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Where the judge draws its lines (a team may set its own: `rejudge --thresholds`)."""
    idle_share_max: float = 0.40      #: fetcher idle (its own back-off) this share: client-bound
    full_share_max: float = 0.50      #: fetch queue at its limit this share: client-bound
    busy_share_max: float = 0.90      #: reader threads on CPU this share of the restore
    min_samples: int = 5              #: fewer fetcher samples judge nothing about the fetcher
    host_idle_min: float = 0.10       #: host CPU idle below this share during the restore ...
    readers_host_share: float = 0.5   #: ... with the readers using this share of it: host-bound


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class BoundBy:
    verdict: str                                 #: host-bound, client-bound or cluster-bound
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, float] = field(default_factory=dict)


def judge(counters: dict[str, int], readers: int, restore_ns: int,
          host_idle_share: float | None = None, shared_host: bool = False,
          host_cores: int = 1, limits: Limits = DEFAULT_LIMITS) -> BoundBy:
    """counters: the group's readers' counters summed over the restore. host_idle_share: the
    load machine's mean idle CPU share over the whole ticks of the restore (None: the restore
    spanned no whole tick). shared_host: the cluster's servers run on that machine too.
    host_cores: its logical CPUs."""
    return judge_evidence(evidence(counters, readers, restore_ns, host_idle_share),
                          shared_host, host_cores, limits)


def evidence(counters: dict[str, int], readers: int, restore_ns: int,
             host_idle_share: float | None) -> dict[str, float]:
    """What the verdict rests on, as shares: stored with the group, so that a stored run can be
    judged again (`replaybench rejudge`)."""
    samples = counters.get("fetch_samples", 0)
    span = max(readers * restore_ns, 1)
    return {
        "fetch_samples": float(samples),
        "fetch_idle_share": counters.get("fetch_idle_samples", 0) / samples if samples else 0.0,
        "fetch_full_share": counters.get("fetch_full_samples", 0) / samples if samples else 0.0,
        "reader_thread_busy_share": counters.get("thread_cpu_ns", 0) / span,
        "reader_fold_share": counters.get("fold_ns", 0) / span,
        "reader_consume_share": counters.get("consume_ns", 0) / span,
        "reader_cpu_cores": counters.get("cpu_ns", 0) / max(restore_ns, 1),
        "host_idle_share": float("nan") if host_idle_share is None else host_idle_share,
    }


def judge_evidence(evidence: dict[str, float], shared_host: bool, host_cores: int,
                   limits: Limits = DEFAULT_LIMITS) -> BoundBy:
    """A saturated host whose CPU went mostly to the servers (an embedded cluster
    re-replicating, say) is the cluster's own limit, not the harness's."""
    idle = evidence["host_idle_share"]
    cores = evidence["reader_cpu_cores"]
    reasons = []
    host_bound = idle == idle and idle < limits.host_idle_min and \
        cores >= limits.readers_host_share * host_cores
    if host_bound:
        reasons.append(f"the load machine's CPU was saturated ({idle:.0%} idle during "
                       f"the restore) and the readers used {cores:.1f} of its {host_cores} cores"
                       + ("; the readers share it with the cluster's servers, so run the harness "
                          "on other cores or machines to measure the cluster" if shared_host
                          else "; add load machines (Ray nodes)"))
    fetcher_judged = evidence["fetch_samples"] >= limits.min_samples
    if fetcher_judged and evidence["fetch_idle_share"] >= limits.idle_share_max:
        reasons.append(f"fetcher not waiting on the cluster in {evidence['fetch_idle_share']:.0%} "
                       f"of samples: its own back-off or parsing" + ("" if host_bound else
                       f" (readers used {cores:.1f} cores)"))
    if fetcher_judged and evidence["fetch_full_share"] >= limits.full_share_max:
        reasons.append(f"fetch queue full in {evidence['fetch_full_share']:.0%} of samples: "
                       f"the readers did not keep up (add readers)")
    if evidence["reader_thread_busy_share"] >= limits.busy_share_max:
        reasons.append(f"reader threads on CPU {evidence['reader_thread_busy_share']:.0%} of the "
                       f"restore (add readers)")
    verdict = "host-bound" if host_bound else "client-bound" if reasons else "cluster-bound"
    return BoundBy(verdict, reasons, dict(evidence))
