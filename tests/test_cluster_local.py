"""A real single-node cluster: round trip, failure detection, and clear errors."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.errors import BrokerDied, ClusterError

from tests.kafka_helpers import create_topic, produce_range, read_all


def test_10k_records_round_trip(kafka1):
    create_topic(kafka1.bootstrap, "round-trip", 4, 1)
    acked: set[int] = set()
    produce_range(kafka1.bootstrap, "round-trip", 0, 10_000, acked)
    assert acked == set(range(10_000))
    values = read_all(kafka1.bootstrap, "round-trip", 4)
    assert sorted(values) == list(range(10_000))


def test_taken_port_fails_with_one_line_naming_it(cluster_root, cache_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ClusterError) as err:
            LocalKafkaCluster(cluster_root / "taken", 1, cache_dir=cache_dir, first_port=port)
    assert str(err.value) == f"port 127.0.0.1:{port} (broker 1) is already in use"


def test_port_taken_after_allocation_is_reported_from_the_broker_log(cluster_root, cache_dir):
    cluster = LocalKafkaCluster(cluster_root / "race", 1, cache_dir=cache_dir)
    port = cluster.nodes[0].broker_port
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        with pytest.raises(ClusterError, match=f"port 127.0.0.1:{port} \\(broker 1\\) is already in use"):
            cluster.start(timeout_s=60)
    assert cluster.running() == []


def test_dead_broker_is_detected_with_its_log_tail(cluster_root, cache_dir):
    cluster = LocalKafkaCluster(cluster_root / "dies", 1, cache_dir=cache_dir).start()
    try:
        os.kill(cluster.processes[1].pid, signal.SIGKILL)
        cluster.processes[1].wait_gone(10)
        with pytest.raises(BrokerDied) as err:
            cluster.raise_if_broker_died()
        message = str(err.value)
        assert message.startswith("broker 1 exited; last lines of its logs")
        assert "Kafka Server started" in message or "KafkaRaftServer" in message
    finally:
        cluster.stop()


def test_missing_java_gives_one_line_naming_it(tmp_path):
    env = {"PATH": str(tmp_path), "HOME": os.environ["HOME"]}
    result = subprocess.run([sys.executable, "-m", "replaybench", "cluster", "up",
                             "--dir", str(tmp_path / "c")], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "replaybench: java not found on PATH: install a JDK 17+ "
        "(e.g. apt-get install openjdk-17-jdk-headless)"]


def test_kafka_opts_reach_the_broker_jvm_and_the_manifest_without_a_secret(
        cluster_root, cache_dir, monkeypatch):
    """KAFKA_OPTS, as Kafka's scripts take it: after replaybench's flags, so it wins."""
    from replaybench.engine import manifest
    monkeypatch.setenv("KAFKA_OPTS", "-XX:TieredStopAtLevel=1 -Drb.test.password=hunter2")
    with LocalKafkaCluster(cluster_root / "opts", 1, cache_dir=cache_dir).start() as cluster:
        pid = cluster.processes[1].pid
        flags = subprocess.run(["jcmd", str(pid), "VM.flags"], capture_output=True, text=True,
                               timeout=30).stdout
        props = subprocess.run(["jcmd", str(pid), "VM.system_properties"], capture_output=True,
                               text=True, timeout=30).stdout
    assert "-XX:TieredStopAtLevel=1" in flags.split() and "rb.test.password=hunter2" in props
    assert manifest.host()["kafka_opts"] == ["-XX:TieredStopAtLevel=1",
                                             "-Drb.test.password=<redacted>"]
