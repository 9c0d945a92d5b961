"""`replaybench compat`: the Kafka semantics stateful jobs rely on, checked against one cluster,
each check pass / fail / unsupported with its evidence, written like a run:
results/<compat-id>/manifest.json + compat.parquet (+ runs/ for the Kafka Streams run)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from replaybench.clusters import health
from replaybench.clusters.opening import ClusterChoice, open_cluster
from replaybench.clusters.platform import ClusterHandle
from replaybench.engine import manifest
from replaybench.errors import UsageError
from replaybench.evaluation import (
    admin_check,
    compaction_check,
    group_checks,
    operator_tools_check,
    producer_checks,
    streams_check,
)
from replaybench.evaluation.probe import FAIL, UNSUPPORTED, Outcome, Probe, Unsupported, refusal
from replaybench.kafka import client_config
from replaybench.meters.clock import Clock
from replaybench.results import provenance, store
from replaybench.results.compat_results import CHECKS

REACH_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CompatRequest:
    choice: ClusterChoice
    results_dir: Path = Path("results")
    client_config: Path | None = None     #: librdkafka properties for --bootstrap
    checks: tuple[str, ...] = CHECKS
    compaction_wait_s: float = 90.0
    #: a cluster already open: checked as it is, neither started nor stopped here
    cluster: ClusterHandle | None = field(default=None, compare=False)


@dataclass
class CompatOutcome:
    compat_dir: Path
    status: str                          #: completed, failed (could not finish) or aborted
    reason: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [r["check"] for r in self.rows if r["status"] == FAIL]


def parse_checks(text: str | None) -> tuple[str, ...]:
    if not text:
        return CHECKS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise UsageError(f"--checks: unknown check {unknown[0]!r}; known: {', '.join(CHECKS)}")
    return names


def run(request: CompatRequest, note: Callable[[str], None]) -> CompatOutcome:
    extra = client_config.load(request.client_config) if request.client_config else {}
    results_dir = request.results_dir
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{results_dir}: cannot create results directory ({exc.strerror})") \
            from None
    compat_id = store.new_run_id(results_dir, f"compat-{request.choice.label}")
    clock = Clock()
    started = clock()
    opened = nullcontext(request.cluster) if request.cluster else open_cluster(request.choice, note)
    with opened as handle:
        config = {**handle.client_config, **extra}
        health.check_reachable(config, REACH_TIMEOUT_S)
        partial_dir = store.new_partial(results_dir, compat_id)
        outcome = CompatOutcome(partial_dir, "completed", "")
        probe = Probe(config, compat_id, _restart_fault(handle), handle.info.replication)
        try:
            for name in request.checks:
                note(f"{name} ...")
                row = _timed(name, _check(name, request, probe, handle, partial_dir), clock)
                outcome.rows.append(row)
                note(f"{name}: {row['status']}")
        except KeyboardInterrupt:
            outcome.status, outcome.reason = "aborted", "interrupted (SIGINT)"
        finally:
            probe.cleanup()
        info = _manifest(compat_id, outcome, handle, config, started, clock())
    outcome.compat_dir = store.finish(partial_dir, {"compat": outcome.rows}, info)
    return outcome


def _check(name: str, request: CompatRequest, probe: Probe, handle: ClusterHandle,
           partial_dir: Path) -> Callable[[], Outcome]:
    if name == "compaction":
        return partial(compaction_check.compaction, probe, request.compaction_wait_s)
    if name == "operator_tools":
        return partial(operator_tools_check.operator_tools, probe, request.choice.cache_dir)
    if name == "kafka_streams":
        return partial(streams_check.kafka_streams,
                       partial(_streams_run, request, handle, partial_dir / "runs"))
    module = {"idempotent_producer": producer_checks, "transactions": producer_checks,
              "consume_transform_produce": producer_checks, "consumer_groups": group_checks,
              "offsets": group_checks, "admin_api": admin_check}[name]
    return partial(getattr(module, name), probe)


def _timed(name: str, check: Callable[[], Outcome], clock: Clock) -> dict[str, Any]:
    """Run one check; an exception is its outcome: a broker's refusal is unsupported,
    anything else a failure with the error as evidence."""
    started = clock()
    try:
        outcome = check()
    except Unsupported as exc:
        outcome = Outcome(UNSUPPORTED, "", "", f"refused by the broker: {exc}", str(exc))
    except Exception as exc:  # noqa: BLE001 - the error is the check's evidence
        why = refusal(exc)
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        outcome = Outcome(UNSUPPORTED if why else FAIL, "", "",
                          f"refused by the broker: {why}" if why else f"error: {text}",
                          why or f"{type(exc).__name__}: {text}")
    return {"check": name, **outcome.__dict__, "started_ns": started,
            "duration_ns": clock() - started}


def _streams_run(request: CompatRequest, handle: ClusterHandle, runs_dir: Path,
                 overrides: tuple[str, ...]):
    from replaybench.engine import runner, workload
    return runner.run(runner.RunRequest(
        workload.path_for("streams-restore"), request.choice.cache_dir, overrides, "smoke",
        results_dir=runs_dir, reference=False, cluster=handle,
        client_config=request.client_config))


def _restart_fault(handle: ClusterHandle) -> Callable[[], None] | None:
    """Restarting broker 1, where this cluster can be restarted (embedded; a profile with a
    restart hook)."""
    processes = handle.capabilities.processes
    if processes is None or "restart" not in processes.actions().get("broker-1", ()):
        return None
    return partial(processes.restart, "broker-1")


def _manifest(compat_id: str, outcome: CompatOutcome, handle: ClusterHandle, config: dict,
              started_ns: int, ended_ns: int) -> dict[str, Any]:
    return {"kind": "compat", "compat_id": compat_id, "status": outcome.status,
            "reason": outcome.reason, "started_ns": started_ns, "ended_ns": ended_ns,
            "cluster": handle.info.to_manifest(),
            "client_configs": {"base": client_config.redact(config)},
            "checks": {r["check"]: r["status"] for r in outcome.rows},
            "versions": provenance.versions(), "host": manifest.host(),
            "git_commit": provenance.git_commit()}
