"""A run's topics: what they are called, creating them on the cluster, and describing them for
the manifest (an existing topic a replay reads is only ever described, never created)."""

from __future__ import annotations

from replaybench.clusters import health
from replaybench.engine import acls, workload
from replaybench.engine.run_parts import Topics
from replaybench.kafka import topics


def output_topic(run_id: str) -> str:
    return f"rb-{run_id}-output"


def streams_names(run_id: str) -> acls.StreamsNames:
    """What the Kafka Streams application of this run is granted on a sasl_ssl cluster."""
    from replaybench.engine.streams_engine import STORE
    return acls.StreamsNames(f"rb-{run_id}", output_topic(run_id), f"rb-{run_id}-{STORE}-")


def for_run(spec: workload.WorkloadSpec, run_id: str) -> Topics:
    """The changelog (or a Kafka Streams application's input) and the live topic."""
    changelog = spec.topic.name or f"rb-{run_id}-changelog"
    if spec.topic.existing:   # live traffic on a topic of the harness's own, named for the run
        return Topics(changelog, f"rb-{run_id}-live")
    if spec.storm.engine == "kafka-streams":   # the seed and live updates are its input
        changelog = spec.topic.name or f"rb-{run_id}-input"
        return Topics(changelog, changelog)
    live = changelog if spec.live.topic == "changelog" else f"{changelog}-live"
    return Topics(changelog, live)


def replayed_topic(config: dict, name: str) -> dict:
    """The identity of an existing topic a replay reads (topics.existing_topic)."""
    return topics.existing_topic(health.admin_for(config), name)


def create(spec, config: dict, names: Topics, recreate: bool,
           cluster_configs: dict[str, str], replication: int | None = None,
           output: str | None = None) -> None:
    """cluster_configs and replication: what the cluster kind imposes (Tiered Storage refuses
    compaction; an S3-backed broker replicates nothing). output: the Kafka Streams
    application's output topic."""
    admin = health.admin_for(config)
    replicas = replication or spec.topic.replication
    if not spec.topic.existing:   # an existing topic is only ever read
        topics.ensure_topic(admin, names.changelog, spec.topic.partitions, replicas,
                            {**spec.topic.configs, **cluster_configs}, recreate)
    if names.live != names.changelog and (spec.live.producers or spec.live.consumers):
        topics.ensure_topic(admin, names.live, spec.live.partitions, replicas, {}, recreate)
    if output:
        topics.ensure_topic(admin, output, spec.topic.partitions, replicas, {}, recreate)


def describe(config: dict, names: Topics) -> dict[str, dict[str, str]]:
    admin = health.admin_for(config)
    out = {}
    for name in {names.changelog, names.live}:
        try:
            out[name] = topics.topic_configs(admin, name)
        except Exception as exc:  # noqa: BLE001 - the manifest says why instead
            out[name] = {"error": str(exc)}
    return out
