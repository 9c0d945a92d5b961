"""How each role is built for a workload: the constructors the coordinator hands to Ray, as
partials (an actor builds its role where it runs)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from replaybench.engine.workload import WorkloadSpec
from replaybench.roles.live_producer import KeyShare, LiveProducer
from replaybench.roles.restore_reader import RestoreReader
from replaybench.roles.schedule import RateSchedule
from replaybench.roles.seeder import ChangelogSeeder, SeedSpec
from replaybench.roles.tail_consumer import TailConsumer


def seeder(spec: WorkloadSpec, config: dict, topic: str) -> Callable:
    s = spec.seed
    return functools.partial(ChangelogSeeder, config, SeedSpec(
        topic, s.keys, s.records, s.value_bytes, s.tombstone_ratio, s.random_payload),
        name="seeder-0")


def producer(spec: WorkloadSpec, config: dict, topic: str, i: int, keys: int, partitions: int,
             record_deliveries: bool) -> Callable:
    """Producer i of live.producers, owning its share of `keys`."""
    live = spec.live
    return functools.partial(
        LiveProducer, {**config, **live.producer_config}, topic, partitions,
        KeyShare(keys, i, live.producers), live.value_bytes,
        RateSchedule.from_spec(live.rate_per_s, live.rate_steps), producer_id=i + 1,
        record_deliveries=record_deliveries, name=f"producer-{i}")


def tail_consumer(spec: WorkloadSpec, config: dict, topic: str, i: int, keys: int,
                  partitions: int) -> Callable:
    return functools.partial(TailConsumer, {**config, **spec.live.consumer_config}, topic,
                             partitions, keys, name=f"consumer-{i}")


def reader(spec: WorkloadSpec, config: dict, topic: str, group: int, index: int,
           mine: list[int], foreign: bool) -> Callable:
    """Reader `index` of restore group `group`, reading partitions `mine` of `topic`."""
    storm = spec.storm
    return functools.partial(
        RestoreReader, {**config, **storm.consumer_config,
                        "group.id": f"replaybench-restore-{group}"},
        topic, mine, None, spec.seed.keys, spec.topic.partitions, follow=storm.follow,
        caught_up_lag=storm.caught_up_lag, name=f"reader-{group}-{index}", client=storm.client,
        foreign=foreign)
