"""The platform evaluation's plain parts: thresholds, the price sheet, the cost model over real
stored runs (tests/fixtures/runs), and the scorecard's rules over small hand-made results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from replaybench.analysis import cost, scorecard, thresholds
from replaybench.results import runs
from replaybench.results.compat_results import CompatResult
from replaybench.results.runs import Run

from tests import cli_in_process

RUNS = Path(__file__).resolve().parent / "fixtures" / "runs"
COMPAT = Path(__file__).resolve().parent / "fixtures" / "compat"


def _shell(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "replaybench", *args], capture_output=True,
                          text=True, timeout=120)


_cli = cli_in_process.run   # the rest in this process (tests/cli_in_process.py)


def test_thresholds_default_and_from_a_file(tmp_path):
    assert thresholds.load(None).recovery_objective_s == 900
    path = tmp_path / "t.yaml"
    path.write_text("recovery_objective: 5m\nstate_size: 2TiB\ncost_ceiling: 40\n"
                    "required_checks: [offsets]\n")
    limits = thresholds.load(path)
    assert (limits.recovery_objective_s, limits.state_size_bytes, limits.cost_ceiling,
            limits.required_checks) == (300, 2 * 2**40, 40.0, ("offsets",))


@pytest.mark.parametrize("text, expected", [
    ("recovery_objectve: 5m\n", "unknown field 'recovery_objectve'"),
    ("recovery_objective: soon\n", "recovery_objective 'soon'"),
    ("cost_ceiling: -3\n", "cost_ceiling: -3 is not a positive number"),
    ("required_checks: [telepathy]\n", "required_checks: 'telepathy' is not a check"),
    ("- a list\n", "expected a mapping of field: value in the thresholds"),
])
def test_bad_thresholds_are_one_line_errors(tmp_path, text, expected):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    out = _cli("scorecard", str(RUNS / "sweep"), "--thresholds", str(path))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert f"{path}: " in out.stderr and expected in out.stderr


def test_the_price_sheet_names_its_source_and_date_and_a_file_overrides_it(tmp_path):
    default = cost.load_prices()
    assert default.source and default.date and default.currency == "USD"
    mine = tmp_path / "prices.yaml"
    mine.write_text("cross_zone_per_gb: 0\ninstance_hour: 1.5\n")
    prices = cost.load_prices(mine)
    assert (prices.cross_zone_per_gb, prices.instance_hour) == (0, 1.5)
    assert prices.object_get_per_1000 == default.object_get_per_1000
    mine.write_text("instance_hour: cheap\n")
    with pytest.raises(cost.PriceSheetError, match=r"prices.yaml: instance_hour: 'cheap' is not"):
        cost.load_prices(mine)


def test_a_restore_is_priced_from_the_measured_runs_and_scales_with_the_state():
    sweep = runs.load_runs(RUNS / "sweep")
    prices = cost.load_prices()
    (small,) = cost.restore_costs(sweep, prices, 1e11, 3600)
    (big,) = cost.restore_costs(sweep, prices, 2e11, 3600)
    assert small.storage_model == "external" and small.runs == 3
    assert small.cost_per_restore == pytest.approx(small.cost_object_requests +
                                                   small.cost_object_bytes + small.cost_cross_zone +
                                                   small.cost_reader_hours)
    assert big.cost_cross_zone == pytest.approx(2 * small.cost_cross_zone)
    assert small.cost_cross_zone == pytest.approx(100 * prices.cross_zone_share *
                                                  prices.cross_zone_per_gb)
    # the sweep measured 1, 2 and 4 readers: plan's fit says how many the objective needs
    assert small.readers_for_rto is not None and "fitted over [1, 2, 4]" in small.basis
    assert small.headroom_per_month == pytest.approx(
        small.instances_for_rto * prices.instance_hour * prices.hours_per_month)


def _run(name: str, status="completed", reason="", storage="local-disk", faults=(),
         comparisons=(), groups=()) -> Run:
    manifest = {"run_id": name, "status": status, "reason": reason, "started_ns": 1,
                "cluster": {"storage": storage, "broker_version": "4.3.1"},
                "workload": {"name": "restore-storm", "spec": {"faults": list(faults),
                                                               "storm": {"readers": 4}}},
                "summary": {"comparisons": list(comparisons)}}
    return Run(Path(name), manifest, [], list(groups))


def _compat(**statuses: str) -> CompatResult:
    rows = [{"check": k, "status": v, "scope": "across a broker restart mid-produce",
             "received": f"{k} said so"} for k, v in statuses.items()]
    return CompatResult(Path("c"), {"kind": "compat", "started_ns": 1, "cluster": {
        "storage": "local-disk", "broker_version": "4.3.1"}}, rows)


def test_a_required_check_unsupported_is_a_blocker_and_an_optional_one_partial():
    ok = {name: "pass" for name in thresholds.DEFAULT_REQUIRED}
    assert scorecard.semantics([_compat(**ok)], [], thresholds.Thresholds()).status == "pass"
    no_tx = _compat(**{**ok, "transactions": "unsupported"})
    verdict = scorecard.semantics([no_tx], [], thresholds.Thresholds())
    assert verdict.status == "blocker" and any("transactions: unsupported" in e
                                               for e in verdict.evidence)
    relaxed = thresholds.Thresholds(required_checks=("offsets",))
    assert scorecard.semantics([no_tx], [], relaxed).status == "partial"
    missing = scorecard.semantics([], [], thresholds.Thresholds())
    assert missing.status == "partial" and "replaybench compat" in missing.evidence[0]


def test_lost_data_and_interference_over_budget_block_and_inconclusive_is_partial():
    limits = thresholds.Thresholds()
    lost = _run("r1", "failed", "verification: live.acked_offset_rewinds: expected 0, got 1")
    assert scorecard.recovery([lost], limits).status == "blocker"
    over = {"role": "producer", "stat": "p99", "reference": "overall", "ratio": 3.8,
            "verdict": "interference"}
    assert scorecard.replay([_run("r2", comparisons=[over])], limits).status == "blocker"
    assert scorecard.replay([_run("r3", comparisons=[{**over, "ratio": 1.5}])],
                            limits).status == "pass"
    unsure = {**over, "verdict": "inconclusive"}
    assert scorecard.replay([_run("r4", comparisons=[unsure])], limits).status == "partial"
    # the same interference, with the harness's readers saturating the machine the broker ran on
    saturated = {"verdict": "host-bound", "verdict_reasons": "the load machine's CPU was "
                 "saturated (0% idle during the restore); the readers share it"}
    judged = scorecard.replay([_run("r5", comparisons=[over], groups=[saturated])], limits)
    assert judged.status == "partial"
    assert "host the harness saturated" in judged.evidence[0] and "0% idle" in judged.evidence[0]
    assert "other cores or machines" in judged.evidence[0]


def test_missing_evidence_is_never_a_pass():
    card = scorecard.Card("x", [scorecard.capacity([], thresholds.Thresholds(), cost.load_prices()),
                                scorecard.security([_run("r")]), scorecard.migration([])])
    assert [v.status for v in card.grades] == ["partial", "partial", "partial"]
    assert not card.blocked


def _move(name: str, lost: int = 0, duplicates: int = 0, steps=("cutover", "rollback"),
          status: str = "completed") -> Run:
    passed = not lost and duplicates <= 400
    manifest = {"run_id": name, "status": status, "reason": "", "started_ns": 1,
                "cluster": {"source": {"storage": "local-disk", "broker_version": "4.3.1"},
                            "target": {"storage": "tiered", "broker_version": "4.3.1"},
                            "kind": "local-disk -> tiered"},
                "migration": {"lost": lost, "duplicates": duplicates, "passed": passed,
                              "verdict": "GO" if passed else "NO-GO", "steps": list(steps),
                              "procedure": "drain-then-switch"}}
    return Run(Path(name), manifest, [], [])


def _watched(name: str, *checks: tuple[str, bool | None]) -> Run:
    run = _run(name)
    run.observability = [{"subject": subject, "passed": passed, "reason": f"{subject} said so"}
                         for subject, passed in checks]
    return run


def test_observability_is_judged_on_what_the_platforms_own_metrics_showed():
    assert scorecard.observability([_run("r")]).status == "partial"   # nothing monitored
    both = _watched("w1", ("restore", True), ("fault 0 replace broker-2", True))
    assert scorecard.observability([both]).status == "pass"
    no_fault = scorecard.observability([_watched("w2", ("restore", True))])
    assert no_fault.status == "partial" and "a broker fault" in " ".join(no_fault.evidence)
    missed = scorecard.observability([both, _watched("w3", ("restore", True),
                                                     ("fault 0 pause broker-1", False))])
    assert missed.status == "blocker" and "w3: fault 0 pause broker-1" in " ".join(missed.evidence)
    unjudged = scorecard.observability([_watched("w4", ("restore", None))])
    assert unjudged.status == "partial"
    # no alert for a fault the metrics showed: the team's call (a short blip should not page),
    # so a warning; a lag the exporter got wrong: a blocker
    quiet = _watched("w5", ("restore", True), ("fault 0 pause broker-1", True),
                     ("fault 0 pause broker-1: alert", False))
    quiet.observability[-1]["check"] = "an alert fired for the fault"
    assert scorecard.observability([quiet]).status == "partial"
    wrong = scorecard.observability([both, _watched("w6", ("live consumers' lag", False))])
    assert wrong.status == "blocker" and "w6: live consumers' lag" in " ".join(wrong.evidence)


def test_migration_safety_is_judged_on_the_ledger_of_runs_to_the_platform():
    assert scorecard.platform(_move("m").manifest) == "tiered · 4.3.1"
    assert scorecard.migration([_move("m1")]).status == "pass"
    assert scorecard.migration([_move("m1", steps=("cutover",))]).status == "partial"
    assert scorecard.migration([_move("m1"), _move("m2", duplicates=900)]).status == "partial"
    lost = scorecard.migration([_move("m1"), _move("m2", lost=3, status="failed")])
    assert lost.status == "blocker" and "m2" in " ".join(lost.evidence)


def test_scorecard_over_stored_results_exits_1_on_a_blocker(tmp_path):
    # tests/fixtures/compat: real `replaybench compat` results of Kafka 4.3.1 and Tansu 0.6.0
    out = _shell("scorecard", str(COMPAT), str(RUNS / "sweep"), "--html", str(tmp_path / "s.html"))
    assert out.returncode == 1, out.stderr
    assert "s3 · tansu 0.6.0: NO-GO" in out.stdout and "local-disk · 4.3.1" in out.stdout
    page = (tmp_path / "s.html").read_text()
    assert page.count("<table class='scorecard'>") == 3 and "transactions: unsupported" in page


def test_only_least_privilege_under_sasl_ssl_passes_the_security_boundary():
    def secured(mode, status="completed", reason="", granted=("User:reader READ topic t",)):
        run = _run("s", status, reason)
        run.manifest["cluster"].update(security=mode, acls={"granted": list(granted),
                                                            "dropped": []})
        return run
    assert scorecard.security([secured("sasl_ssl")]).status == "pass"
    assert scorecard.security([secured("tls", granted=())]).status == "partial"
    refused = secured("sasl_ssl", "failed", "reader-0-0: principal User:reader may not READ "
                                            "topic t: TOPIC_AUTHORIZATION_FAILED")
    assert scorecard.security([refused]).status == "blocker"
    # a grant left out on purpose (--drop-acl) shows the error; it is no platform fault
    shown = secured("sasl_ssl", "failed", refused.manifest["reason"] + " (left out by --drop-acl)")
    assert scorecard.security([secured("sasl_ssl"), shown]).status == "partial"


def test_plan_says_how_many_reader_nodes_and_that_more_than_measured_is_extrapolated():
    from replaybench.analysis import plan
    sweep = runs.load_runs(RUNS / "sweep")
    one_each = plan.make_plan(sweep, 2e9, 42.0, readers_per_node=1)
    assert one_each.readers == one_each.reader_nodes == 3
    assert one_each.measured_nodes == 1   # the sweep ran on one machine
    assert any("3 reader nodes, the runs used at most 1" in w for w in one_each.warnings)
    packed = plan.make_plan(sweep, 2e9, 42.0, readers_per_node=4)
    assert packed.reader_nodes == 1 and not any("reader nodes" in w for w in packed.warnings)


def test_a_streams_run_the_broker_refuses_is_unsupported_and_another_failure_fails():
    from types import SimpleNamespace

    from replaybench.evaluation import streams_check

    def outcome(reason: str):
        return SimpleNamespace(status="failed", reason=reason, run_dir=Path("r1"),
                               record=SimpleNamespace(groups=[]))
    refused = outcome("streams-0: UnsupportedVersionException: The node does not support END_TXN")
    check = streams_check.kafka_streams(lambda _overrides: refused)
    assert (check.status, check.broker_error) == ("unsupported", refused.reason)
    lost = outcome("verification: lost_updates: expected 0, got 12")
    assert streams_check.kafka_streams(lambda _overrides: lost).status == "fail"


def test_a_topic_not_yet_known_to_the_answering_broker_is_asked_again():
    """compat's Admin API check describes a topic it has just created; on a loaded machine the
    broker that answers may not have the metadata yet. Only that error is retried."""
    from confluent_kafka import KafkaError, KafkaException

    from replaybench.evaluation import admin_check
    answers = [KafkaError.UNKNOWN_TOPIC_OR_PART] * 2

    def describe():
        if answers:
            raise KafkaException(KafkaError(answers.pop()))
        return "described"

    assert admin_check._once_known(describe, interval_s=0.01) == "described"
    answers[:] = [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    with pytest.raises(KafkaException):
        admin_check._once_known(describe, interval_s=0.01)


def test_tiered_storage_on_s3_and_in_a_folder_are_priced_apart():
    def model(**cluster):
        return cost.storage_model(SimpleNamespace(manifest={"cluster": cluster}))
    assert model(storage="tiered",
                 remote_storage_manager="replaybench.rsm.S3RemoteStorageManager") == "tiered"
    assert model(storage="tiered", remote_storage_manager=(
        "org.apache.kafka.server.log.remote.storage.LocalTieredStorage")) == "tiered-local"
    assert model(storage="local-disk") == "local-disk" and model() == "external"
