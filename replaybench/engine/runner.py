"""`replaybench run`: resolve the workload and the cluster, run the coordinator on Ray, and
write results whatever happens once measuring has begun."""

from __future__ import annotations

import functools
import signal
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from replaybench.clusters import cpu_budget, health
from replaybench.clusters.cpu_budget import CpuBudget, affinity
from replaybench.clusters.opening import ClusterChoice, open_cluster
from replaybench.clusters.platform import PROOF_FAILED, ClusterHandle
from replaybench.engine import (
    acls,
    actors,
    live_metrics,
    manifest,
    object_store_meter,
    platform_watch,
    reader_count,
    run_parts,
    run_topics,
    workload,
)
from replaybench.engine.coordinator import Coordinator
from replaybench.engine.live_metrics import LiveMetrics
from replaybench.engine.node_placement import Placer
from replaybench.engine.run_parts import Topics
from replaybench.engine.run_state import Progress
from replaybench.errors import UsageError
from replaybench.kafka import client_config
from replaybench.meters.clock import Clock
from replaybench.results import store
from replaybench.results.run_record import RunRecord
from replaybench.results.runs import headline_groups
from replaybench.results.summary import Summary, summarize
from replaybench.roles import native_reader
from replaybench.roles.kinds import Role
from replaybench.verdicts import fault_cost

REACH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunRequest:
    workload: Path
    cache_dir: Path
    overrides: tuple[str, ...] = ()
    scale: str = "default"
    bootstrap: str | None = None          #: None: start the embedded local cluster
    client_config: Path | None = None
    brokers: int | None = None            #: None: the workload's cluster.brokers
    ray_address: str | None = None
    results_dir: Path = Path("results")
    recreate_topics: bool = False
    tags: tuple[tuple[str, str], ...] = ()   #: recorded in the manifest (a sweep's values)
    profile: Path | None = None              #: an external cluster profile (YAML)
    platform_name: str = "kafka"             #: a registered platform (clusters/registry.py)
    reference: bool = True   #: with faults: first run the workload without them, for comparison
    #: a cluster already open (compat's): used as it is, neither started nor stopped here
    cluster: ClusterHandle | None = field(default=None, compare=False)
    security: str | None = None              #: embedded kafka: tls or sasl_ssl
    drop_acls: tuple[str, ...] = ()          #: sasl_ssl: ROLE:OPERATION grants to leave out
    repeat: int = 1   #: with faults: pairs of (reference, with faults) runs, alternated
    monitor: bool = False   #: a real Prometheus scrapes the platform's own metrics (--monitor)
    prometheus: str | None = None            #: a team's own Prometheus, asked instead
    prometheus_queries: Path | None = None   #: ... the team's queries for it
    metrics_port: int | None = None   #: the run's own live figures served here (--metrics-port)
    #: the embedded cluster's servers on some cores, the driver, Ray and the actors on the
    #: others (--cluster-cpus, --harness-cpus)
    cpu_budget: CpuBudget | None = None


@dataclass
class RunOutcome:
    run_dir: Path
    status: str
    reason: str
    summary: Summary
    record: RunRecord = field(repr=False)
    #: with faults and a reference: what they cost the restore over the pairs run
    fault_cost: dict | None = None
    reference_ns: int = 0   #: the paired reference run's restore time (0: none, or failed)


class Display:
    """What the runner tells the user while it works; the CLI passes a rich one."""

    def note(self, text: str) -> None:
        pass

    def tick(self, progress: Progress) -> None:
        pass


def run(request: RunRequest, display: Display | None = None) -> RunOutcome:
    """One run; for a workload with faults, first the same workload without them (the
    reference), so that the faulted run can say what its faults cost the restore, and with
    `repeat`, that many such pairs, alternated (verdicts/fault_cost.py judges them)."""
    display = display or Display()
    spec = workload.load(request.workload, list(request.overrides), request.scale)
    # a migration's faults hit its mirror; what they cost is read off its own catch-up
    paired = bool(spec.faults) and request.reference and spec.migration is None
    if request.repeat > 1 and not paired:
        raise UsageError(f"--repeat {request.repeat}: repeats pairs of runs with and without "
                         "the workload's faults; this workload has none (or --no-reference)")
    if not paired:
        return _run_once(request, display, None)
    pairs, outcome = [], None
    for i in range(request.repeat):
        outcome = _pair(request, display, i)
        if outcome.status == "aborted":
            return outcome
        pairs.append((_restore_ns(outcome.record), outcome.reference_ns))
    cost = fault_cost.judge(pairs)
    store.update_manifest(outcome.run_dir, fault_cost=cost)
    return replace(outcome, fault_cost=cost)


def _pair(request: RunRequest, display: Display, index: int) -> RunOutcome:
    """The reference run (without the faults, into references/: a folder of nightly runs stays
    one scenario for compare and history), then the run with them."""
    label = f" (pair {index + 1} of {request.repeat})" if request.repeat > 1 else ""
    display.note(f"reference run{label}: the same workload without its faults, on a fresh "
                 "cluster")
    reference = _run_once(replace(request, overrides=(*request.overrides, "faults=[]"),
                                  tags=(*request.tags, ("reference", "without faults")),
                                  results_dir=request.results_dir / "references"),
                          display, None)
    if reference.status == "aborted":
        return reference
    display.note(f"reference run {reference.run_dir.name}: {reference.status}, restore "
                 f"{_restore_ns(reference.record) / 1e9:.2f} s; now the run with faults")
    outcome = _run_once(request, display, reference)
    outcome.reference_ns = _restore_ns(reference.record) if reference.status == "completed" \
        else 0
    return outcome


def _run_once(request: RunRequest, display: Display, reference: RunOutcome | None) -> RunOutcome:
    spec = workload.load(request.workload, list(request.overrides), request.scale)
    if spec.migration is not None:
        return _migrate(request, spec, display)
    _check_embedded_fits(spec, request)
    extra = client_config.load(request.client_config) if request.client_config else {}
    results_dir = _results_dir(request.results_dir)
    run_id = store.new_run_id(results_dir, spec.name)
    latch = _InterruptLatch()
    try:
        with ExitStack() as stack:
            outcome = _measure(stack, latch, request, spec, extra, results_dir, run_id, display,
                               reference)
    finally:
        latch.disarm()   # cluster and Ray are stopped now
    if latch.hit and outcome.status != "aborted":
        return _mark_aborted(outcome, "interrupted (SIGINT) while writing results or stopping")
    return outcome


def _migrate(request: RunRequest, spec: workload.WorkloadSpec, display: Display) -> RunOutcome:
    """A migration across two clusters (migration_runner.py), under the same Ctrl-C rule."""
    from replaybench.engine import migration_runner
    results_dir = _results_dir(request.results_dir)
    latch = _InterruptLatch()
    try:
        return migration_runner.run(request, spec, display, results_dir,
                                    store.new_run_id(results_dir, spec.name), latch)
    finally:
        latch.disarm()


def _measure(stack: ExitStack, latch: _InterruptLatch, request: RunRequest, spec, extra: dict,
             results_dir: Path, run_id: str, display: Display,
             reference: RunOutcome | None) -> RunOutcome:
    """Open the cluster and Ray on `stack`, run the coordinator, write the results."""
    budget = request.cpu_budget
    choice = ClusterChoice(request.cache_dir, request.profile, request.bootstrap,
                           request.platform_name, request.brokers or spec.cluster.brokers,
                           request.security, request.monitor, budget.cluster if budget else None)
    if request.cluster is None:
        choice.check()   # what cannot be opened as asked is said before Ray starts
    if request.monitor:
        platform_watch.check_available()
    teams = platform_watch.existing(request.prometheus, request.prometheus_queries) \
        if request.prometheus else None
    live = stack.enter_context(LiveMetrics(request.metrics_port)) if request.metrics_port \
        else None
    if budget is not None:   # the private Ray and every actor inherit the driver's cores
        stack.enter_context(cpu_budget.this_process_on(budget.harness))
    # Ray first: a Ray cluster that cannot be joined, or a placement it cannot meet, is said
    # before a broker is started
    ray_info = stack.enter_context(actors.ray_runtime(request.ray_address))
    placer = Placer(actors.alive_nodes(), spec.placement)
    cluster = request.cluster or stack.enter_context(open_cluster(choice, display.note))
    config = {**cluster.client_config, **extra}
    health.check_reachable(config, REACH_TIMEOUT_S)
    names = run_topics.for_run(spec, run_id)
    replay = run_topics.replayed_topic(config, names.changelog) if spec.topic.existing else None
    if replay:   # the readers split the topic's own partitions
        spec = spec.model_copy(update={"topic": spec.topic.model_copy(
            update={"partitions": replay["partitions"]})})
    readers = reader_count.choose(spec.storm.readers, spec.topic.partitions,
                                  *reader_count.harness_cores(
                                      not ray_info.get("temp_dir"), placer.pools[Role.READER]))
    spec = spec.model_copy(update={"storm": spec.storm.model_copy(
        update={"readers": readers.readers})})
    streams = spec.storm.engine == "kafka-streams"
    run_topics.create(spec, config, names, request.recreate_topics,
                      cluster.info.topic_configs or {}, cluster.info.replication,
                      run_topics.output_topic(run_id) if streams else None)
    grants = acls.for_run(cluster.security, config, names.changelog, names.live,
                          not spec.topic.existing, request.drop_acls,
                          run_topics.streams_names(run_id) if streams else None,
                          request.monitor)
    # the lag exporter logs in as its own principal where roles have theirs
    watch = stack.enter_context(platform_watch.watching(
        cluster, {**config, **grants.role_configs.get("monitor", {})},
        {"replaybench": live.endpoint} if live else {})) if request.monitor else teams
    display.note(f"run {run_id}: {spec.name} on {cluster.info.bootstrap}")
    _note_reader_fallback(spec, display)
    record = RunRecord(run_id, Clock()())
    meter = stack.enter_context(object_store_meter.metering(
        cluster.capabilities.object_store, Clock()))
    flush = cluster.after_seed(names.changelog)
    processes = cluster.capabilities.processes
    if meter is not None and processes is not None:
        processes = object_store_meter.MeteredProcesses(processes, meter)
    tick = live_metrics.ticking(display.tick, live)
    coordinator = _coordinator(spec, request, run_id, (spec, config, names, record, tick,
                                                       flush, processes, cluster.server_pids),
                               grants.role_configs, placer)
    run_parts.measure(record, coordinator.run)
    latch.arm()   # from here until everything is stopped, a Ctrl-C is noted, not raised
    record.reason = grants.explain(record.reason)
    return _finish(record, spec, request, cluster, names, config, ray_info, results_dir,
                   meter, reference, replay, grants, watch, readers)


def _finish(record: RunRecord, spec, request: RunRequest, cluster: ClusterHandle, names: Topics,
            config: dict, ray_info: dict, results_dir: Path, meter,
            reference: RunOutcome | None, replay: dict | None,
            grants: acls.RunGrants, watch: platform_watch.PlatformWatch | None,
            readers: reader_count.ReaderCount) -> RunOutcome:
    """replay: the identity of a replayed existing topic (topics.existing_topic); grants:
    what the roles were allowed on a sasl_ssl cluster; readers: how their count was chosen."""
    run_parts.close(record)
    if watch is not None:   # the run's whole window, before Prometheus stops with the stack
        watch.collect(record)
    summary = summarize(record)
    if record.status == "completed" and not summary.verification_passed:
        record.status = "failed"
        record.reason = "verification: " + "; ".join(summary.failed_checks[:3])
    cluster_info = cluster.info.to_manifest()
    if meter is not None:
        cluster_info["object_store"] = object_store_meter.annotate(
            record, meter, cluster.capabilities.object_store.describe())
    cluster_info.update(cluster.storage_proof(record.events))
    proof_failed = cluster_info.pop(PROOF_FAILED, None)
    if proof_failed and record.status == "completed":
        record.status, record.reason = "failed", f"storage proof: {proof_failed}"
    cluster_info["topics"] = run_topics.describe(config, names)
    if grants.granted or grants.dropped:
        cluster_info["acls"] = grants.to_manifest()
        # who really logged in and did what, as the brokers' authorizer saw it
        cluster_info["access_seen"] = cluster.access_seen(record.started_ns, record.ended_ns)
    info = manifest.build(record, spec, {"scale": request.scale, "overrides": list(request.overrides),
                                         "file": str(request.workload),
                                         "readers": readers.to_manifest()},
                          cluster_info, {"base": config, "producer": spec.live.producer_config,
                                         "consumer": spec.live.consumer_config,
                                         "reader": spec.storm.consumer_config},
                          summary, ray_info, replay)
    info["tags"] = dict(request.tags)
    if request.cpu_budget is not None:   # as asked, and as the servers really were pinned
        info["cpu_budget"] = {**request.cpu_budget.to_manifest(), "servers": {
            name: affinity(pid) for name, pid in cluster.server_pids().items()}}
    if watch is not None:
        info["monitoring"] = watch.describe()
    if reference is not None:
        info["reference"] = _compare_to_reference(record, reference)
    run_dir = store.write(results_dir, record, info)
    return RunOutcome(run_dir, record.status, record.reason, summary, record)


def _coordinator(spec: workload.WorkloadSpec, request: RunRequest, run_id: str,
                 args: tuple, role_configs: dict[str, dict], placer: Placer) -> Coordinator:
    """The coordinator with the workload's restore engine: replaybench's readers, or a
    Kafka Streams application (built here). role_configs: each role's own login on a sasl_ssl
    cluster; placer: each actor's node. Every engine gets them from this one place, so every
    role of every engine logs in as itself."""
    if spec.storm.engine != "kafka-streams":
        return Coordinator(*args, role_configs=role_configs, placer=placer)
    from replaybench.clusters import streams_app
    from replaybench.engine.streams_engine import StreamsEngine
    engine = functools.partial(StreamsEngine, app=streams_app.build(request.cache_dir),
                               application_id=f"rb-{run_id}", output=run_topics.output_topic(run_id))
    return Coordinator(*args, role_configs=role_configs, placer=placer, engine=engine)


def _note_reader_fallback(spec: workload.WorkloadSpec, display: Display) -> None:
    """Said once on the console, not only as a warning inside each reader's Ray actor: the
    readers will fall back to the slower client. (On a multi-node Ray cluster each node may
    differ: the summary names the client every group really used.)"""
    if spec.storm.engine == "kafka-streams" or not spec.storm.readers or \
            spec.storm.client != "auto":
        return
    reason = native_reader.unavailable_reason()
    if reason:
        display.note(f"{reason}; {native_reader.FALLBACK}")


def _restore_ns(record: RunRecord) -> int:
    """The run's restore time: its slowest group's; 0 when a group never caught up."""
    times = [g["restore_time_ns"] for g in headline_groups(record.groups)]
    return max(times) if times and all(times) else 0


def _compare_to_reference(record: RunRecord, reference: RunOutcome) -> dict[str, Any]:
    """Restore time with the faults against without, into the manifest and every fault row."""
    ref_ns = _restore_ns(reference.record) if reference.status == "completed" else 0
    ns = _restore_ns(record)
    for row in record.faults:
        row["restore_time_ns"] = ns
        row["reference_restore_time_ns"] = ref_ns or None
    return {"run_id": reference.run_dir.name, "path": f"references/{reference.run_dir.name}",
            "status": reference.status,
            "restore_time_ns": ref_ns or None, "restore_time_with_faults_ns": ns or None,
            "slowdown": round(ns / ref_ns, 3) if ns and ref_ns else None}


def _check_embedded_fits(spec: workload.WorkloadSpec, request: RunRequest) -> None:
    """What the embedded cluster cannot satisfy is refused before anything starts."""
    if spec.topic.existing and request.recreate_topics:
        raise workload.WorkloadError(f"{request.workload}: topic.existing: true with "
                                     "--recreate-topics: a replayed topic is never deleted")
    acls.check_drops(request.drop_acls, request.security or (
        request.cluster.info.security if request.cluster else None))
    if request.profile or request.bootstrap or request.cluster or request.platform_name == "s3":
        return
    brokers = request.brokers or spec.cluster.brokers
    if spec.topic.replication > brokers:
        raise workload.WorkloadError(f"{request.workload}: topic.replication: "
                                     f"{spec.topic.replication} needs at least as many brokers, "
                                     f"the embedded cluster has {brokers}")
    for i, fault in enumerate(spec.faults):
        if fault.broker_id() > brokers:
            raise workload.WorkloadError(f"{request.workload}: faults[{i}]: broker-"
                                         f"{fault.broker_id()} is not one of the embedded "
                                         f"cluster's brokers 1..{brokers}")


def _results_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path}: cannot create results directory ({exc.strerror})") from None
    return path


class _InterruptLatch:
    """Once the measurement ends, a Ctrl-C must not cut short the results write or the stopping
    of the brokers, Ray and the S3 server: while armed it is only noted, and the run then counts
    as aborted."""

    def __init__(self) -> None:
        self.hit, self._previous = False, None

    def arm(self) -> None:
        self._previous = signal.signal(signal.SIGINT, self._note)

    def disarm(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _note(self, signum, frame) -> None:
        self.hit = True


def _mark_aborted(outcome: RunOutcome, reason: str) -> RunOutcome:
    """A run whose results were complete when the user interrupted: say so in its manifest."""
    store.update_manifest(outcome.run_dir, status="aborted", reason=reason)
    outcome.record.status, outcome.record.reason = "aborted", reason
    return replace(outcome, status="aborted", reason=reason)


