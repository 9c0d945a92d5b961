"""Broker drills on a real 3-node cluster: kill, restart, replace with an empty disk, pause."""

import threading
import time

import pytest

from replaybench.clusters import health

from tests.kafka_helpers import create_topic, produce_range, read_all


@pytest.fixture(autouse=True)
def whole_cluster(kafka3):
    """Each drill starts from, and leaves behind, three brokers up, running and fully
    replicated, whatever order the drills run in and wherever one of them failed."""
    make_whole(kafka3)
    yield
    make_whole(kafka3)


def make_whole(cluster) -> None:
    for node_id, proc in cluster.processes.items():
        if proc.state() == "T":
            cluster.resume(node_id)
    for node in cluster.nodes:
        if node.node_id not in cluster.running():
            cluster.restart(node.node_id)
    cluster.wait_ready(60)
    cluster.wait_fully_replicated(120)


def _log_bytes(path, topic: str) -> int:
    return sum(f.stat().st_size for d in path.glob(f"{topic}-*") for f in d.glob("*.log"))


def test_kill_while_producing_loses_nothing_acknowledged(kafka3):
    topic = "drill-kill"
    create_topic(kafka3.bootstrap, topic, 3, 3)
    acked: set[int] = set()
    producer = threading.Thread(target=produce_range,
                                args=(kafka3.bootstrap, topic, 0, 30_000, acked),
                                kwargs={"extra": {"linger.ms": 20, "batch.size": 4096}})
    producer.start()
    health.wait_until(lambda: len(acked) > 2_000, 30, "the first acknowledgements")
    kafka3.kill(2)
    acked_at_kill = len(acked)
    producer.join(120)
    assert not producer.is_alive()
    assert len(acked) > acked_at_kill, "producing stopped when the broker died"
    assert acked == set(range(30_000))

    kafka3.restart(2)
    kafka3.wait_fully_replicated(60, topics=[topic])
    assert 2 in health.live_broker_ids(health.admin(kafka3.bootstrap))
    values = read_all(kafka3.bootstrap, topic, 3)
    assert len(values) == len(set(values))
    assert set(values) == acked


def test_replaced_broker_re_replicates_and_rejoins_the_isr(kafka3):
    topic = "drill-replace"
    create_topic(kafka3.bootstrap, topic, 3, 3)
    acked: set[int] = set()
    produce_range(kafka3.bootstrap, topic, 0, 20_000, acked)
    node = kafka3.node(3)
    before = _log_bytes(node.data_dir, topic)
    assert before > 0

    kafka3.replace(3)
    kafka3.wait_fully_replicated(90, topics=[topic])
    assert _log_bytes(node.data_dir, topic) >= before  # the data came back over the network
    assert sorted(read_all(kafka3.bootstrap, topic, 3)) == list(range(20_000))


def test_paused_broker_is_stopped_then_serves_again(kafka3):
    kafka3.pause(1)
    try:
        assert kafka3.processes[1].state() == "T"
        time.sleep(1.0)
        assert kafka3.processes[1].state() == "T"
    finally:
        kafka3.resume(1)
    assert kafka3.processes[1].state() in ("R", "S", "D")
    kafka3.wait_ready(30)
    topic = "drill-pause"
    create_topic(kafka3.bootstrap, topic, 3, 3)
    acked: set[int] = set()
    produce_range(kafka3.bootstrap, topic, 0, 1_000, acked)
    assert sorted(read_all(kafka3.bootstrap, topic, 3)) == list(range(1_000))
