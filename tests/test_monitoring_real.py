"""--monitor against a real broker and a real Prometheus: the broker serves its own metrics
through the JMX exporter, Prometheus scrapes it for the run, and the stored series show the
restore and a broker frozen mid-storm, as the platform's own monitoring would have."""

from __future__ import annotations

import json

import pytest
import yaml

from replaybench.clusters.ports import free_ports
from replaybench.engine import runner

from tests.engine_helpers import SHORT, WORKLOADS, manifest, table

# a restore of several seconds (three times smoke's seed, one reader), frozen for 4 s once 70 %
# is read: the restore has shown in a few 2 s scrapes before the freeze hides the broker (a
# fault fires only while the restore runs)
LONGER_RESTORE = ("seed.records=900000", "storm.readers=1")
PAUSE = "faults=[{action: pause, broker: 1, at_restore_percent: 70, duration_s: 4}]"
# a baseline of several 2 s scrapes: what the restore's bytes out is compared with
LONGER_BASELINE = "phases.baseline_s=8"


# alone: a broker starved of CPU by other tests' brokers answers its scrapes late, and a late
# scrape reads as the broker down
@pytest.mark.alone
def test_a_monitored_run_stores_the_brokers_series_and_sees_the_restore_and_the_freeze(
        cache_dir, tmp_path, ray_local):
    request = runner.RunRequest(WORKLOADS / "restore-storm.yaml", cache_dir,
                                (*SHORT, LONGER_BASELINE, *LONGER_RESTORE, PAUSE), "smoke",
                                results_dir=tmp_path / "results", reference=False, monitor=True,
                                metrics_port=free_ports(1)[0])
    out = runner.run(request)
    assert out.status == "completed", out.reason
    info = manifest(out.run_dir)
    assert sorted(info["monitoring"]["targets"]) == ["broker-1", "lag-exporter", "replaybench"]

    series = table(out.run_dir, "platform_metrics")
    by_metric: dict[str, list[dict]] = {}
    for row in series:
        by_metric.setdefault(row["metric"], []).append(row)
    # Prometheus saw the broker through the run: every phase from the baseline on has points
    assert {r["phase"] for r in by_metric["up"]} >= {"baseline", "storm", "recovery", "drain"}
    assert all(r["value"] == 1 for r in by_metric["up"] if r["phase"] == "baseline")
    out_bytes = by_metric["bytes_out_per_s"]
    storm = info["phases"]["storm"]["start_ns"]
    storm_max = max(r["value"] for r in out_bytes if storm <= r["t_ns"] <= storm + 15e9)
    baseline = [r["value"] for r in out_bytes if r["phase"] == "baseline"]
    assert baseline and storm_max > 2 * max(baseline), (storm_max, baseline)
    assert all(json.loads(r["labels"]) == {} and r["server"] == "broker-1" for r in out_bytes)

    # replaybench's own /metrics, scraped by the same Prometheus while the run ran: the restore
    # reached its target there too
    [group] = table(out.run_dir, "restore_groups")
    restored = [r["value"] for r in by_metric["replaybench_restored_records"]]
    assert restored and max(restored) == group["target_records"] == 900_000

    fault = table(out.run_dir, "faults")[0]
    frozen = [r for r in by_metric["up"]
              if fault["started_ns"] <= r["t_ns"] <= fault["done_ns"] and r["value"] == 0]
    assert frozen, "a broker stopped for 4 s answered every scrape"

    checks = {r["subject"]: r for r in table(out.run_dir, "observability")}
    assert checks["restore"]["passed"] is True, checks["restore"]["reason"]
    freeze = checks["fault 0 pause broker-1"]
    assert freeze["passed"] is True and freeze["cleared"] is True, freeze["reason"]
    assert 0 < freeze["delay_ns"] <= 15e9
    assert freeze["seen_ns"] == min(r["t_ns"] for r in frozen)

    # the live consumers' group as the lag exporter showed it (their committed offsets, every
    # 5 s), within 10 s of traffic of their true lag
    lag = checks["live consumers' lag"]
    assert lag["passed"] is True and 0 < lag["error_p95_s"] <= 10, lag["reason"]
    assert {json.loads(r["labels"])["consumergroup"] for r in by_metric["consumer_group_lag"]} \
        == {f"replaybench-tail-rb-{info['run_id']}-changelog-live"}
    # a 4 s freeze is shorter than the `for:` of every shipped alert: none fired, as it should
    # not, and the check says so
    alert = checks["fault 0 pause broker-1: alert"]
    assert alert["passed"] is False and alert["reason"] == \
        "no alert fired: it would have woken nobody"

    # the same stored series, asked about a stretch in which nothing happened to the broker,
    # must not show a fault: the check tells a quiet broker from a frozen one
    from replaybench.verdicts import observability
    bounds = info["phases"]["baseline"]
    quiet = [(r["t_ns"], r["value"]) for r in by_metric["up"]
             if bounds["start_ns"] <= r["t_ns"] <= bounds["end_ns"]]
    nothing = observability.fault_showed("nothing", quiet, [], bounds["start_ns"],
                                         bounds["end_ns"])
    assert quiet and nothing["passed"] is False and nothing["seen_ns"] is None

    # judged again from the stored files: as the run judged them, and with a bar the restore
    # did not reach, the restore no longer showed
    from tests.test_rejudge_units import _cli as rejudge
    again = rejudge(str(out.run_dir))
    assert again.returncode == 0 and "none changed" in again.stdout, again.stdout
    lines = tmp_path / "lines.yaml"
    lines.write_text("observability_judge: {rise: 100000}\n")
    high = rejudge(str(out.run_dir), "--thresholds", str(lines))
    assert high.returncode == 1 and "observability restore  showed  ->  did not show" \
        in high.stdout, high.stdout


@pytest.mark.slow(33)
def test_a_teams_own_prometheus_is_asked_the_teams_queries(kafka1, cache_dir, tmp_path,
                                                             ray_local):
    """--prometheus URL: a Prometheus the harness did not start (here the test's, scraping
    replaybench's own /metrics as a team's would for a nightly run, and a lag exporter), asked
    the queries of the team's file, on a cluster the harness cannot scrape itself (given by
    --bootstrap), which other runs and applications share."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    from replaybench.clusters.lag_exporter import LagExporter
    from replaybench.clusters.prometheus_server import PrometheusServer
    from replaybench.verdicts import observability

    from tests.kafka_helpers import create_topic, produce_range
    # another application on the same cluster, 60,000 records behind (30 s of the live rate)
    idle, behind = f"idle-{time.time_ns()}", 60_000
    create_topic(kafka1.bootstrap, idle, 1, 1)
    produce_range(kafka1.bootstrap, idle, 0, behind, set(), {"linger.ms": 50})
    other = Consumer({"bootstrap.servers": kafka1.bootstrap, "group.id": idle})
    other.commit(offsets=[TopicPartition(idle, 0, 0)], asynchronous=False)
    other.close()
    port = free_ports(1)[0]
    queries = tmp_path / "team-queries.yaml"
    queries.write_text(
        "# what this team reads a restore's activity from, under the name the check reads\n"
        "bytes_out_per_s: sum by (server) (rate(replaybench_restored_records[6s]))\n"
        "restored: replaybench_restored_records\n"
        "clock: sum by (server) (rate(replaybench_elapsed_seconds[6s]))\n"
        "consumer_group_lag: sum by (server, consumergroup) (kafka_consumergroup_lag)\n"
        f"idle_group_lag: sum by (server, consumergroup) "
        f"(kafka_consumergroup_lag{{consumergroup='{idle}'}})\n")
    with LagExporter(tmp_path / "exporter", {"bootstrap.servers": kafka1.bootstrap}) as lag, \
            PrometheusServer(tmp_path / "team-prometheus", {"nightly": f"127.0.0.1:{port}",
                                                            "lag-exporter": lag.endpoint},
                             1.0).start() as team:
        request = runner.RunRequest(WORKLOADS / "restore-storm.yaml", cache_dir,
                                    (*SHORT, LONGER_BASELINE), "smoke",
                                    bootstrap=kafka1.bootstrap, results_dir=tmp_path / "results",
                                    metrics_port=port, prometheus=team.url,
                                    prometheus_queries=queries)
        out = runner.run(request)
    assert out.status == "completed", out.reason
    info = manifest(out.run_dir)
    assert info["monitoring"] == {"prometheus": team.url, "owner": "team",
                                  "queries_file": str(queries),
                                  "queries": yaml.safe_load(queries.read_text())}
    series = table(out.run_dir, "platform_metrics")
    restored = [r for r in series if r["metric"] == "restored"]
    [group] = table(out.run_dir, "restore_groups")
    assert {r["server"] for r in restored} == {"nightly"}
    assert max(r["value"] for r in restored) == group["target_records"] == 300_000
    checks = {r["subject"]: r for r in table(out.run_dir, "observability")}
    assert checks["restore"]["passed"] is True, checks["restore"]["reason"]
    # the same check over a series that does not follow the restore (the run's clock, a
    # steady 1/s) finds nothing: a team query pointing at the wrong thing fails
    clock = [(r["t_ns"], r["value"]) for r in series if r["metric"] == "clock"]
    phases = info["phases"]
    wrong = observability.restore_showed(
        clock, (phases["baseline"]["start_ns"], phases["baseline"]["end_ns"]),
        (phases["storm"]["start_ns"], phases["storm"]["end_ns"]))
    assert clock and wrong["passed"] is False, wrong["reason"]
    # the live consumers' lag as the team's exporter showed it, on a cluster holding other
    # runs' tail groups and the idle application: this run's group only, close to the truth
    lag = checks["live consumers' lag"]
    assert lag["passed"] is True and lag["error_p95_s"] <= 10, lag["reason"]
    # the same check over a lag source wrong on purpose: the idle application's group, read
    # as if it were the consumers' (a dashboard on the wrong group) is far off, and fails
    [mine] = [json.loads(e["detail"])["group"] for e in table(out.run_dir, "events")
              if e["kind"] == "live_group"]
    misread = [r for r in series if r["metric"] != "consumer_group_lag"] + [
        {**r, "metric": "consumer_group_lag", "labels": json.dumps({"consumergroup": mine})}
        for r in series if r["metric"] == "idle_group_lag"]
    assert [r["value"] for r in misread if r["metric"] == "consumer_group_lag"][-1] == behind
    [off] = observability.judge_run(misread, {}, [], info["ended_ns"],
                                    ticks=table(out.run_dir, "timeseries"),
                                    asked={"consumer_group_lag"},
                                    events=table(out.run_dir, "events"))
    assert off["passed"] is False and "of traffic off" in off["reason"], off["reason"]


def _answers(endpoint: str) -> bool:
    try:
        _scrape(endpoint)
        return True
    except OSError:
        return False


def _scrape(endpoint: str) -> dict[tuple, float]:
    """What a Prometheus scrape of the endpoint reads: (name, labels...) -> value."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families
    with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {(s.name, *sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.slow(20)
def test_the_lag_exporter_serves_committed_against_end_offsets_and_the_shipped_alerts_fire(
        kafka1, tmp_path):
    """The lag exporter on a real broker, scraped by hand and by a real Prometheus evaluating
    the shipped alert rules: a group that committed behind the end shows its exact lag, and
    the alerts fire for a broker that does not answer and for a lag that grows (the rules'
    durations shortened, so that the test does not wait minutes: their expressions as
    shipped)."""
    import time

    import psutil
    from confluent_kafka import Consumer, TopicPartition

    from replaybench.clusters.lag_exporter import LagExporter
    from replaybench.clusters.prometheus_server import PrometheusServer
    from replaybench.engine import platform_watch

    from tests.kafka_helpers import create_topic, produce_range
    topic = f"lag-{time.time_ns()}"
    create_topic(kafka1.bootstrap, topic, 2, 1)
    produce_range(kafka1.bootstrap, topic, 0, 200, set())   # keys spread over both partitions
    consumer = Consumer({"bootstrap.servers": kafka1.bootstrap, "group.id": "team-app",
                         "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 5)],
                    asynchronous=False)
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in (0, 1)}

    with LagExporter(tmp_path / "exporter", {"bootstrap.servers": kafka1.bootstrap}) \
            as exporter:
        # its own process, and its worker started again when it dies (as a service manager
        # would: librdkafka's admin client can abort while brokers come and go)
        [worker] = psutil.Process(exporter.process.pid).children()
        worker.kill()
        worker.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _answers(exporter.endpoint):
            time.sleep(0.2)
        [again] = psutil.Process(exporter.process.pid).children()
        assert again.pid != worker.pid
        # below what it watches (lag_exporter.NICE), the restarted worker too
        assert psutil.Process(exporter.process.pid).nice() == again.nice() == 10
        got = _scrape(exporter.endpoint)
        for partition, committed in ((0, 3), (1, 5)):
            labels = (("consumergroup", "team-app"), ("partition", str(partition)),
                      ("topic", topic))
            assert got[("kafka_consumergroup_lag", *labels)] == ends[partition] - committed
            assert got[("kafka_consumergroup_current_offset", *labels)] == committed
            assert got[("kafka_topic_partition_current_offset", *labels[1:])] == ends[partition]

        rules = platform_watch.alert_rules().replace("offset 1m", "offset 4s") \
            .replace("for: 30s", "for: 2s").replace("for: 1m", "for: 2s")
        # a broker and a mirror that do not answer their scrape, one broker told of only once
        # Prometheus runs (as a run's mirror is, when it starts)
        nobody, late = (f"127.0.0.1:{port}" for port in free_ports(2))
        with PrometheusServer(tmp_path / "prometheus", {"broker-7": nobody, "mirror": nobody,
                                                        "lag-exporter": exporter.endpoint},
                              1.0, rules).start() as prometheus:
            prometheus.scrape("target-broker-8", late)
            def lag_more() -> None:   # team-app falls further behind
                produce_range(kafka1.bootstrap, topic, 0, 50, set())
            firing = _firing_until(prometheus, 4, lag_more)
            # a server the run stops by design leaves the scrape: its alert resolves
            prometheus.unscrape("broker-7")
            still = _firing_until(prometheus, 3, lag_more, keep=lambda f: (
                "KafkaBrokerDown", "broker-7") in f)
    consumer.close()
    assert not exporter.process.alive() and not again.is_running()   # both stopped
    assert "starting it again" in (tmp_path / "exporter" / "lag-exporter.log").read_text()
    assert set(firing) == {("KafkaBrokerDown", "broker-7"), ("MirrorMakerDown", "mirror"),
                           ("KafkaBrokerDown", "target-broker-8"),
                           ("KafkaConsumerGroupLagGrowing", "team-app")}, firing
    # (nothing under-replicated here: that alert stays silent)
    assert ("KafkaBrokerDown", "broker-7") not in still and len(still) == 3, still


def _firing_until(prometheus, count: int, each_second, keep=lambda firing: False,
                  timeout_s: float = 40.0) -> dict[tuple[str, str], dict]:
    """The alerts firing, (alert, the server or group it names) -> labels, once `count` fire
    and `keep` no longer holds (or at the timeout); `each_second` runs between the looks."""
    import time
    deadline = time.monotonic() + timeout_s
    while True:
        firing = {(a["labels"]["alertname"], a["labels"].get("consumergroup")
                   or a["labels"].get("server")): a["labels"]
                  for a in prometheus.api.alerts() if a["state"] == "firing"}
        if (len(firing) >= count and not keep(firing)) or time.monotonic() > deadline:
            return firing
        each_second()
        time.sleep(1)
