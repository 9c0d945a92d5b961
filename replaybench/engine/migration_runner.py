"""`replaybench run` for a workload with a `migration` section: two clusters
(migration_clusters.py), MirrorMaker 2 between them, the applications moved across by the
migration schedule, judged from the ledger, and results written whatever happens once measuring
has begun."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

from replaybench.clusters import cpu_budget, health, streams_app
from replaybench.clusters.cpu_budget import affinity
from replaybench.clusters.mirror_maker import MirrorProcesses
from replaybench.clusters.opening import ClusterChoice
from replaybench.clusters.platform import ClusterHandle
from replaybench.clusters.process_union import ProcessUnion
from replaybench.clusters.prometheus_server import PrometheusServer
from replaybench.engine import (
    acls,
    actors,
    live_metrics,
    manifest,
    platform_watch,
    run_parts,
    run_topics,
)
from replaybench.engine import migration_clusters as clusters_of
from replaybench.engine import migration_mirrors as mirroring
from replaybench.engine.fault_schedule import FaultSchedule
from replaybench.engine.group_offsets import OffsetReader
from replaybench.engine.live_metrics import LiveMetrics
from replaybench.engine.migration_clusters import SOURCE, TARGET
from replaybench.engine.migration_schedule import MigrationSchedule, Side
from replaybench.engine.migration_traffic import MigrationTraffic
from replaybench.engine.migration_verify import verify, verify_streams
from replaybench.engine.mirror_flow import MirrorFlow
from replaybench.engine.phases import run_schedule
from replaybench.engine.run_parts import Topics
from replaybench.engine.run_state import RunState
from replaybench.engine.streams_engine import STORE
from replaybench.engine.streams_move import StreamsApplication
from replaybench.engine.streams_move_schedule import StreamsMoveSchedule
from replaybench.engine.workload import WorkloadSpec
from replaybench.errors import ReplaybenchError, UsageError
from replaybench.kafka import topics
from replaybench.kafka.client_config import redact
from replaybench.meters.clock import Clock
from replaybench.results import store
from replaybench.results.run_record import RunRecord
from replaybench.results.summary import summarize


def run(request, spec: WorkloadSpec, display, results_dir: Path, run_id: str, latch):
    """One migration run (request: runner.RunRequest); returns a runner.RunOutcome. latch:
    armed once the measuring ends, so that a Ctrl-C cannot cut the results short."""
    from replaybench.engine.runner import RunOutcome
    clusters_of.check_request(request)
    m = spec.migration
    choices = [clusters_of.choice(m.source, m.source_security, request, SOURCE),
               clusters_of.choice(m.target, m.target_security, request, TARGET)]
    # --drop-acl leaves a grant out on each side secured with sasl_ssl (a profile brings its
    # own principals: nothing is granted there)
    secured = [m.source_security or request.security, m.target_security or request.security]
    acls.check_drops(request.drop_acls, "sasl_ssl" if any(
        mode == "sasl_ssl" and not c.profile for mode, c in zip(secured, choices)) else None)
    clusters_of.check_choices(choices)
    for flag, asked in (("--cluster-cpus/--harness-cpus", request.cpu_budget),
                        ("--monitor", request.monitor), ("--security", request.security)):
        if asked and all(c.profile for c in choices):
            raise UsageError(f"{flag}: both clusters are profiles, none is embedded here to "
                             "be given cores, watched or secured")
    # a team's Prometheus (its two clusters' series, the team's queries): checked before
    # anything starts, asked for the run's window once it is measured
    teams = platform_watch.existing(request.prometheus, request.prometheus_queries) \
        if request.prometheus else None
    with ExitStack() as stack:
        live = stack.enter_context(LiveMetrics(request.metrics_port)) \
            if request.metrics_port else None
        if request.cpu_budget is not None:   # Ray, every actor and the mirrors inherit these
            stack.enter_context(cpu_budget.this_process_on(request.cpu_budget.harness))
        ray_info = stack.enter_context(actors.ray_runtime(request.ray_address))
        source, target = clusters_of.open_both(stack, choices, display.note)
        clusters_of.check_clusters(source, target)
        watch = stack.enter_context(platform_watch.watching_servers(
            _watched(choices, source, target, live), {
                f"{side}-{platform_watch.LAG_EXPORTER}": mirroring.login(handle, "monitor")
                for side, handle in ((SOURCE, source), (TARGET, target))})) \
            if request.monitor else teams
        root = Path(tempfile.mkdtemp(prefix="rb-mirror-"))
        stack.callback(shutil.rmtree, root, True)   # the folder made just above
        record = RunRecord(run_id, Clock()())
        display.note(f"run {run_id}: {spec.name}, {m.source} ({source.info.bootstrap}) -> "
                     f"{m.target} ({target.info.bootstrap}), {m.cutover.procedure}"
                     + (", then back" if m.rollback else ""))
        mirrors, pinned, grants = _measure(stack, spec, request, record, source, target, root,
                                           live_metrics.ticking(display.tick, live),
                                           watch.server if watch is not None else None)
        if watch is not None:   # the run's whole window, before Prometheus stops
            watch.collect(record)
        latch.arm()
        info = _manifest(record, spec, request, source, target, mirrors, ray_info)
        _access(info, record, grants, {SOURCE: source, TARGET: target})
        if watch is not None:
            info["monitoring"] = watch.describe()
        if request.cpu_budget is not None:   # as asked, and as the servers really were pinned
            info["cpu_budget"] = {**request.cpu_budget.to_manifest(), "servers": pinned}
        run_dir = store.write(results_dir, record, info)
        _keep_logs(root, run_dir)
    return RunOutcome(run_dir, record.status, record.reason, summarize(record), record)


def _watched(choices: list[ClusterChoice], source: ClusterHandle, target: ClusterHandle,
             live: LiveMetrics | None) -> dict[str, str]:
    """--monitor: the embedded clusters' servers (source-broker-1, target-broker-1, ...:
    the names a migration's faults use) and the run's own figures (--metrics-port); beside
    them, a lag exporter per cluster (source-lag-exporter, target-lag-exporter: one asks
    any cluster)."""
    targets = {"replaybench": live.endpoint} if live else {}
    for choice, handle, side in zip(choices, (source, target), (SOURCE, TARGET)):
        if not choice.profile:
            targets.update(platform_watch.served(handle, f"{side}-"))
    return targets


def _measure(stack: ExitStack, spec: WorkloadSpec, request, record: RunRecord,
             source: ClusterHandle, target: ClusterHandle, root: Path, tick,
             scraper: PrometheusServer | None):
    """tick: called with each tick's Progress (the console, and --metrics-port's figures);
    scraper: the run's own Prometheus, which scrapes the mirrors while they run."""
    m, live = spec.migration, spec.live
    topic, group = f"rb-{record.run_id}-orders", f"rb-{record.run_id}-app"
    admin = health.admin(source.client_config["bootstrap.servers"],
                         {k: v for k, v in source.client_config.items()
                          if k != "bootstrap.servers"})
    topics.ensure_topic(admin, topic, live.partitions,
                        source.info.replication or spec.topic.replication, {}, False)
    if m.application == "kafka-streams":
        _output_topics(source, target, run_topics.output_topic(record.run_id), spec)
    clock = Clock()
    existing = _existing_topics(source, m.existing_topics)
    copy = mirroring.copy_name(topic, m.mirror.policy)
    grants = _grant(source, target, topic, group, copy, run_topics.output_topic(record.run_id),
                    existing, spec, request.monitor, request.drop_acls)
    forward, reverse, mirrors = mirroring.flows(spec, source, target, topic, group, root,
                                                request, existing, scraper)
    stack.callback(lambda: [f.stop() for f in (forward, reverse) if f])
    faults = FaultSchedule(list(spec.faults), _processes(source, target, forward, reverse),
                           clock, source.client_config, [topic])
    stack.callback(faults.teardown)
    state = RunState(spec, source.client_config, Topics(topic, topic), record, faults, clock,
                     lambda: _server_pids(source, target, forward, reverse),
                     grants[SOURCE].role_configs)
    state.on_tick.append(lambda s: tick(s.progress()))
    traffic = MigrationTraffic(state, topic, group, m.cutover.reset)
    readers = [OffsetReader(source.client_config), OffsetReader(target.client_config)]
    stack.callback(lambda: [r.close() for r in readers])
    src = Side(SOURCE, source.client_config, [topic, f"{TARGET}.{topic}"], 1, readers[0],
               grants[SOURCE].role_configs)
    dst = Side(TARGET, target.client_config, _read_on_target(topic, copy), 0, readers[1],
               grants[TARGET].role_configs)
    app = StreamsApplication(state, streams_app.build(request.cache_dir), group, topic,
                             run_topics.output_topic(record.run_id)) \
        if m.application == "kafka-streams" else None
    schedule, judge = _schedule(state, traffic, app, src, dst, forward, reverse)
    try:
        run_parts.measure(record, lambda: (_spawn(traffic, app, src), state.placed(),
                                           run_schedule(state, schedule.steps(judge))))
    finally:
        # read back from the kernel: each server's cores while it runs, each mirror's as it
        # started (a mirror may be stopped, or killed, before the run ends)
        pinned = {} if request.cpu_budget is None else {
            **{name: affinity(pid) for name, pid in
               _server_pids(source, target, forward, reverse).items()},
            **{f.maker.name: f.maker.cpus for f in (forward, reverse)
               if f is not None and f.maker.cpus}}
        for flow in (forward, reverse):
            if flow is not None:
                flow.stop()
        if app is not None:   # its events kept, its JVMs closed, while its actors live
            app.close()
        state.kill_all()
    run_parts.close(record)
    if record.reason:   # a refused role: the principal, operation and resource it lacked
        record.reason = acls.explain(record.reason,
                                     [g for side in grants.values() for g in side.granted],
                                     [g for side in grants.values() for g in side.dropped])
    failed = [v for v in record.verification if not v["passed"]]
    if record.status == "completed" and failed:
        record.status = "failed"
        record.reason = "migration: " + "; ".join(
            f"{v['check']}: expected {v['expected']}, got {v['observed']}" for v in failed[:3])
    return mirrors, pinned, grants


def _spawn(traffic: MigrationTraffic, app: StreamsApplication | None, src: Side) -> None:
    """Every actor up front, on the source: the producers (and the group), the application."""
    traffic.spawn()
    if app is not None:
        app.spawn(src.login("streams"))


def _schedule(state: RunState, traffic: MigrationTraffic, app: StreamsApplication | None,
              src: Side, dst: Side, forward: MirrorFlow, reverse: MirrorFlow | None):
    """What moves decides the schedule and the judge: (the schedule, its verify step)."""
    if app is None:
        schedule = MigrationSchedule(state, traffic, src, dst, forward, reverse)
        return schedule, lambda: verify(state, traffic, schedule)
    schedule = StreamsMoveSchedule(state, traffic, app, src, dst, forward, reverse)
    return schedule, lambda: verify_streams(state, traffic, schedule)


def _output_topics(source: ClusterHandle, target: ClusterHandle, name: str,
                   spec: WorkloadSpec) -> None:
    """The Kafka Streams application's output topic, on each cluster it runs on."""
    for handle in (source, target):
        topics.ensure_topic(health.admin_for(handle.client_config), name, spec.live.partitions,
                            handle.info.replication or spec.topic.replication, {}, False)


def _read_on_target(topic: str, copy: str) -> list[str]:
    """What the group reads on the target after the cutover: the copy, and the topic itself
    when the copy has a name of its own (the producers write the topic there)."""
    return [copy] if copy == topic else [copy, topic]


def _grant(source: ClusterHandle, target: ClusterHandle, topic: str, group: str, copy: str,
           output: str, existing: dict[str, int], spec: WorkloadSpec, monitored: bool,
           drops: tuple[str, ...]) -> dict[str, acls.RunGrants]:
    """On each sasl_ssl cluster, every role's least privilege there, less what `drops`
    (--drop-acl) names (a migration's roles log in on both clusters as themselves);
    elsewhere nothing."""
    m = spec.migration
    team = tuple(existing)
    # a Kafka Streams application: the group is its application id; its changelog is
    # mirrored with its input (the identity policy: the copy keeps the name)
    app = acls.StreamsNames(group, output, f"{group}-{STORE}-") \
        if m.application == "kafka-streams" else None
    changelog = mirroring.mirrored_changelog(m, group)
    back, back_copies, back_groups = mirroring.mirrored_back(m, topic, group, changelog)
    on_source = acls.MigrationNames(
        topic, (topic, f"{TARGET}.{topic}"), group, back_copies,
        (topic, *changelog, *team), (group, *m.existing_groups), TARGET if back else "",
        back_groups, app)
    on_target = acls.MigrationNames(
        topic, tuple(_read_on_target(topic, copy)), group,
        (copy, *changelog, *(mirroring.copy_name(t, m.mirror.policy) for t in team)), back,
        back_groups, SOURCE, (group, *m.existing_groups), app)
    return {SOURCE: acls.for_migration(source.security, source.client_config, on_source,
                                       monitored, drops),
            TARGET: acls.for_migration(target.security, target.client_config, on_target,
                                       monitored, drops)}


def _access(info: dict, record: RunRecord, grants: dict[str, acls.RunGrants],
            handles: dict[str, ClusterHandle]) -> None:
    """Each secured cluster's grants, and who really did what there, as its brokers' own
    authorizer saw it."""
    for side, granted in grants.items():
        if granted.granted:
            info["cluster"][side]["acls"] = granted.to_manifest()
            info["cluster"][side]["access_seen"] = handles[side].access_seen(
                record.started_ns, record.ended_ns)


def _keep_logs(root: Path, run_dir: Path) -> None:
    """The mirrors' own logs beside the results (the temp folder they were in goes)."""
    for log in sorted(root.glob("*/*.log")):
        shutil.copy(log, run_dir / f"{log.parent.name}-{log.name}")


def _existing_topics(source: ClusterHandle, names: tuple[str, ...]) -> dict[str, int]:
    """The team's own topics to mirror, with their partitions; one missing is one line."""
    if not names:
        return {}
    admin = health.admin(source.client_config["bootstrap.servers"],
                         {k: v for k, v in source.client_config.items()
                          if k != "bootstrap.servers"})
    found = {}
    for name in names:
        try:
            found[name] = int(topics.existing_topic(admin, name)["partitions"])
        except ReplaybenchError:
            raise UsageError(f"migration.existing_topics: {name}: no such topic on the source "
                             f"({source.info.bootstrap}), or it cannot be described") from None
    return found


def _processes(source: ClusterHandle, target: ClusterHandle, forward: MirrorFlow,
               reverse: MirrorFlow | None) -> ProcessUnion:
    """What faults may act on: `source-broker-1`, `target-broker-1` (each cluster's own
    names behind its side), `mirror` and, with a rollback, `reverse-mirror`."""
    mirrors = {"": MirrorProcesses(forward.maker)}
    if reverse is not None:
        mirrors["reverse"] = MirrorProcesses(reverse.maker)
    return ProcessUnion({SOURCE: source.capabilities.processes,
                         TARGET: target.capabilities.processes, **mirrors})


def _server_pids(source: ClusterHandle, target: ClusterHandle,
                 *flows: MirrorFlow | None) -> dict[str, int]:
    """Every server process on this host, for its CPU per tick: both clusters' and the
    mirrors'."""
    pids = {**{f"source-{k}": v for k, v in source.server_pids().items()},
            **{f"target-{k}": v for k, v in target.server_pids().items()}}
    for flow in flows:
        if flow is not None and flow.maker.pid():
            pids[flow.maker.name] = flow.maker.pid()
    return pids


def _manifest(record: RunRecord, spec: WorkloadSpec, request, source: ClusterHandle,
              target: ClusterHandle, mirrors: dict, ray_info: dict) -> dict:
    summary = summarize(record)
    info = manifest.build(record, spec, {"scale": request.scale,
                                         "overrides": list(request.overrides),
                                         "file": str(request.workload)},
                          {"source": source.info.to_manifest(),
                           "target": target.info.to_manifest(),
                           "kind": f"{source.info.storage or source.info.origin} -> "
                                   f"{target.info.storage or target.info.origin}"},
                          {"source": redact(source.client_config),
                           "target": redact(target.client_config)}, summary, ray_info)
    info["mirror"] = mirrors
    info["migration"] = record.migration_verdict
    info["tags"] = dict(request.tags)
    return info
