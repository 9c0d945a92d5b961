"""Nothing measured is lost, and exit codes say which kind of problem it was."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from confluent_kafka import KafkaError, KafkaException

import replaybench
from replaybench.engine import runner
from replaybench.errors import ReplaybenchError, RunError, UsageError

from tests.engine_helpers import manifest, run_smoke, table


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_error_is_either_the_users_or_the_runs():
    # _rdkafka_reader resolves librdkafka only once native_reader has loaded it
    for info in pkgutil.walk_packages(replaybench.__path__, "replaybench."):
        if info.name not in ("replaybench.__main__", "replaybench._rdkafka_reader"):
            importlib.import_module(info.name)
    kinds = _subclasses(ReplaybenchError) - {UsageError, RunError}
    assert len(kinds) >= 10
    undecided = [k.__qualname__ for k in kinds if not issubclass(k, (UsageError, RunError))]
    assert undecided == []


class FailsInStorm(runner.Display):
    """A client error from deep inside a run (as reading end offsets can raise)."""

    def tick(self, progress) -> None:
        if progress.phase == "storm":
            raise KafkaException(KafkaError(KafkaError._TRANSPORT, "broker transport failure"))


@pytest.mark.cluster
def test_a_client_error_mid_run_still_writes_what_was_measured(kafka1, cache_dir, tmp_path,
                                                               ray_local):
    out = run_smoke(kafka1, cache_dir, tmp_path, "restore-storm", display=FailsInStorm())
    assert out.status == "failed"
    assert out.reason.startswith("KafkaException:") and "transport failure" in out.reason
    info = manifest(out.run_dir)
    assert info["status"] == "failed" and info["reason"] == out.reason
    phases = {r["phase"] for r in table(out.run_dir, "timeseries")}
    assert {"seed", "baseline", "storm"} <= phases
    [error] = [e for e in table(out.run_dir, "events") if e["kind"] == "error"]
    assert "Traceback" in error["detail"]


def test_a_secret_passed_with_set_stays_out_of_the_manifest():
    import json

    from engine_helpers import WORKLOADS

    from replaybench.engine import manifest, workload
    from replaybench.results.run_record import RunRecord
    from replaybench.results.summary import summarize
    canary = "hunter2-canary-7f3a"
    overrides = [f"live.producer_config.sasl.password={canary}",
                 f"storm.consumer_config.sasl.oauthbearer.config=token={canary}"]
    spec = workload.load(WORKLOADS / "restore-storm.yaml", overrides, "smoke")
    assert spec.live.producer_config["sasl.password"] == canary   # the run itself gets it
    record = RunRecord("r", 1)
    info = manifest.build(record, spec, {"scale": "smoke", "overrides": overrides}, {},
                          {"producer": spec.live.producer_config}, summarize(record), {})
    text = json.dumps(info, default=str)
    assert canary not in text
    assert "live.producer_config.sasl.password=<redacted>" in info["workload"]["overrides"]
    assert info["workload"]["spec"]["live"]["producer_config"]["sasl.password"] == "<redacted>"


def test_pause_that_never_takes_effect_is_an_error_not_silence(monkeypatch):
    import signal as sig
    import subprocess
    import sys

    from replaybench.clusters.processes import ServerProcess
    from replaybench.errors import ClusterError
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        proc = ServerProcess(child.pid, "time.sleep", child)   # ours: no cmdline race
        monkeypatch.setattr(proc, "signal", lambda _s: None)   # the SIGSTOP goes nowhere
        with pytest.raises(ClusterError, match=r"still in state '[RSD]' 0.2 s after the signal"):
            proc.pause(timeout_s=0.2)
    finally:
        child.send_signal(sig.SIGKILL)
        child.wait()


def test_replication_samples_reach_the_cluster_with_its_client_config(monkeypatch):
    from replaybench.clusters import health
    from replaybench.engine.fault_schedule import FaultSchedule
    from replaybench.results.run_record import RunRecord
    seen = {}

    def admin(bootstrap, extra=None):
        seen.update(bootstrap=bootstrap, extra=extra)
        return object()

    monkeypatch.setattr(health, "admin", admin)
    monkeypatch.setattr(health, "under_replicated", lambda *_a, **_k: ["t-0"])
    plan = FaultSchedule([], None, lambda: 5, {"bootstrap.servers": "h:9093",
                                               "security.protocol": "SASL_SSL",
                                               "sasl.password": "x"}, ["t"])
    record = RunRecord("r", 1)
    plan._sample_replication(record)
    assert seen == {"bootstrap": "h:9093", "extra": {"security.protocol": "SASL_SSL",
                                                     "sasl.password": "x"}}
    assert record.timeseries[-1]["under_replicated_partitions"] == 1


class _LossyAdmin:
    """A stand-in for AdminClient whose first CreateTopics is lost in flight."""

    def __init__(self, created_anyway: bool, listed: bool = True) -> None:
        self.calls, self.created_anyway, self.listed = 0, created_anyway, listed

    def list_topics(self, timeout=None):
        from types import SimpleNamespace
        topics = {"t": SimpleNamespace(partitions={0: None, 1: None})} \
            if self.created_anyway and self.calls and self.listed else {}
        return SimpleNamespace(topics=topics)

    def create_topics(self, topics, operation_timeout=None):
        from concurrent.futures import Future
        self.calls += 1
        future = Future()
        if self.calls == 1:
            future.set_exception(KafkaException(KafkaError(KafkaError._DESTROY_BROKER,
                                                           "Failed while waiting for response")))
        elif self.created_anyway:
            future.set_exception(KafkaException(KafkaError(KafkaError.TOPIC_ALREADY_EXISTS,
                                                           "Topic 't' already exists.")))
        else:
            future.set_result(None)
        return {topics[0].topic: future}


@pytest.mark.parametrize("created_anyway, listed, calls", [
    (False, True, 2), (True, True, 1),
    (True, False, 2)])   # metadata not showing it yet: the retry finds it exists
def test_a_create_topics_lost_in_flight_is_retried_or_found(created_anyway, listed, calls):
    from replaybench.kafka import topics
    admin = _LossyAdmin(created_anyway, listed)
    topics.ensure_topic(admin, "t", 2, 1, {})
    assert admin.calls == calls
