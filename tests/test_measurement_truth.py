"""Does the harness measure what happened? A broker frozen for 1 s (SIGSTOP) during a fixed-rate
phase must show up as ~1 s in the coordinated-omission-corrected latency, and no record may be
lost or counted twice."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import Producer

from replaybench.format.histograms import LatencyHistogram
from replaybench.roles.live_producer import KeyShare, LiveProducer
from replaybench.roles.restore_reader import end_offsets
from replaybench.roles.schedule import RateSchedule
from replaybench.roles.tail_consumer import TailConsumer

from tests.kafka_helpers import create_topic

RATE = 2_000
PAUSE_S = 1.0


def _drive(role, seconds: float, out: list) -> None:
    end = role.clock() + int(seconds * 1e9)
    while role.clock() < end:
        out.append(role.tick(min(role.clock() + 250_000_000, end)))


def _merged(snaps, metric: str) -> LatencyHistogram:
    total = LatencyHistogram()
    for snap in snaps:
        if metric in snap.histograms:
            total.add(LatencyHistogram.from_blob(snap.histograms[metric]))
    return total


def _phases(role, warm_s: float, judged_s: float, warm: list, judged: list) -> None:
    _drive(role, warm_s, warm)
    _drive(role, judged_s, judged)


def _first_producer_id(cfg: dict, topic: str) -> None:
    """A broker that has just started answers a producer-id request with "coordinator load in
    progress" for up to a second; have that happen before the warm phase, whose latency the
    test reads as its baseline."""
    producer = Producer({**cfg, "enable.idempotence": True})
    producer.produce(topic, b"warm-up")
    assert producer.flush(30) == 0


@pytest.mark.alone
def test_a_frozen_broker_shows_in_corrected_latency_and_loses_nothing(kafka1):
    topic = "truth-pause"
    create_topic(kafka1.bootstrap, topic, 4, 1)
    cfg = kafka1.client_config()
    create_topic(kafka1.bootstrap, "truth-warm-up", 1, 1)
    _first_producer_id(cfg, "truth-warm-up")
    producer = LiveProducer(cfg, topic, 4, KeyShare(1000), 200, RateSchedule.constant(RATE))
    consumer = TailConsumer(cfg, topic, 4, 1000)
    consumer.start()
    consumer.tick(consumer.clock() + 1_000_000_000)      # assigned and fetching before traffic
    producer.start()
    sent_warm, sent, got_warm, got = [], [], [], []
    drivers = [threading.Thread(target=_phases, args=(producer, 2.0, 4.0, sent_warm, sent)),
               threading.Thread(target=_phases, args=(consumer, 2.0, 6.0, got_warm, got))]
    for t in drivers:
        t.start()
    time.sleep(3.0)                                      # 1 s into the judged phase
    node = kafka1.nodes[0].node_id
    kafka1.pause(node)
    time.sleep(PAUSE_S)
    kafka1.resume(node)
    for t in drivers:
        t.join()
    sent.append(producer.finish())
    acked = sum(s.counters["acked"] for s in sent_warm + sent)
    deadline = time.monotonic() + 20
    while sum(s.counters["records"] for s in got_warm + got) < acked and time.monotonic() < deadline:
        got.append(consumer.tick(consumer.clock() + 200_000_000))
    producer.close()
    consumer.close()

    # Before the freeze nothing came near a second, so what the judged phase shows is the freeze.
    assert _merged(sent_warm, "ack_intended").percentile(100) < 0.5e9
    corrected = _merged(sent, "ack_intended")
    assert corrected.percentile(99.9) >= 0.9e9, corrected.summary()
    assert corrected.percentile(99.0) >= _merged(sent, "ack_sent").percentile(99.0)
    assert _merged(got, "e2e").percentile(99.9) >= 0.9e9  # the consumer saw it too

    ends = sum(end_offsets(cfg, topic, 4).values())
    assert acked == ends == producer.sent                # every record acknowledged, once
    assert sum(s.counters["records"] for s in got_warm + got) == ends
    assert sum(s.counters["duplicates"] for s in got_warm + got) == 0
