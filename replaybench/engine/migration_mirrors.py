"""A migration's mirrors: what each copies (the run's topic and group, the team's own topics
and groups, a Kafka Streams application's changelog; and with a rollback, what comes back)
and the MirrorMaker behind each flow, logged in as the mirror on both clusters, serving
Prometheus its metrics when the run is watched."""

from __future__ import annotations

from pathlib import Path

from replaybench.clusters import mirror_config
from replaybench.clusters.java_client_config import to_java
from replaybench.clusters.mirror_maker import MirrorMaker
from replaybench.clusters.platform import ClusterHandle
from replaybench.clusters.ports import free_ports
from replaybench.clusters.prometheus_server import PrometheusServer
from replaybench.engine import acls
from replaybench.engine.migration_clusters import SOURCE, TARGET
from replaybench.engine.mirror_flow import MirrorFlow
from replaybench.engine.streams_engine import changelog_of
from replaybench.engine.workload import WorkloadSpec


def flows(spec: WorkloadSpec, source: ClusterHandle, target: ClusterHandle, topic: str,
          group: str, root: Path, request, existing: dict[str, int],
          scraper: PrometheusServer | None) -> tuple[MirrorFlow, MirrorFlow | None, dict]:
    """The forward mirror (the run's topic and group, and the team's own `existing` topics,
    name -> partitions, and groups), and with a rollback the reverse one (mirrored_back);
    each serving Prometheus its metrics when `scraper` watches the run."""
    m, parts = spec.migration, spec.live.partitions
    src, dst = to_java(login(source, "mirror"), SOURCE), to_java(login(target, "mirror"), TARGET)
    mirrored, groups = {topic: parts, **existing}, (group, *m.existing_groups)
    changelog = mirrored_changelog(m, group)
    if m.application == "kafka-streams":
        # its changelog, and its group's offsets, only when it restores from the copy; rebuilt,
        # it must find no offsets on the target, or it would go on from them with no state
        mirrored = {topic: parts, **{t: parts for t in changelog}}
        groups = (group,) if changelog else ()
    forward_props = mirror_config.properties(
        mirror_config.Flow(SOURCE, TARGET, src, dst, tuple(mirrored), groups),
        m.mirror.settings())
    copies = [(t, copy_name(t, m.mirror.policy), n) for t, n in mirrored.items()]
    forward = MirrorFlow("forward", MirrorMaker(root / "forward", request.cache_dir,
                                                forward_props, exporter_port=_port(scraper)),
                         (source.client_config, target.client_config), copies, scraper)
    mirrors = {"forward": _shown(forward_props)}
    back, back_copies, back_groups = mirrored_back(m, topic, group, changelog)
    if not back:
        return forward, None, mirrors
    streams = m.application == "kafka-streams"
    reverse_props = mirror_config.properties(
        mirror_config.Flow(TARGET, SOURCE, dst, src, back, back_groups),
        m.mirror.model_copy(update={"policy": "identity" if streams else "prefixed"}).settings(
            "latest" if streams else "earliest"))
    reverse = MirrorFlow("reverse", MirrorMaker(root / "reverse", request.cache_dir,
                                                reverse_props, name="reverse-mirror",
                                                exporter_port=_port(scraper)),
                         (target.client_config, source.client_config),
                         [(t, c, parts) for t, c in zip(back, back_copies)], scraper)
    mirrors["reverse"] = _shown(reverse_props)
    return forward, reverse, mirrors


def _port(scraper: PrometheusServer | None) -> int:
    """A free port for a mirror's Prometheus metrics when the run is watched (0: none)."""
    return free_ports(1)[0] if scraper is not None else 0


def copy_name(topic: str, policy: str) -> str:
    """The copy's name on the target under the forward mirror's replication policy."""
    return topic if policy == "identity" else f"{SOURCE}.{topic}"


def mirrored_changelog(m, group: str) -> tuple[str, ...]:
    """The Kafka Streams application's changelog when it is mirrored (its restore on the
    other cluster reads the copy); none otherwise."""
    return (changelog_of(group),) if m.application == "kafka-streams" and \
        m.streams.changelog == "mirrored" else ()


def mirrored_back(m, topic: str, group: str, changelog: tuple[str, ...]
                   ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """With a rollback, what the mirror back copies: (topics, their copies' names, groups).
    The run's topic, prefixed (the source's own topic is written again after the rollback, so
    the copy needs a name of its own), and its group; a Kafka Streams application reads one
    input and restores one changelog by name: both copied under their own names (the mirror
    back starting at their ends, migration_schedule's reverse start), and with its changelog
    mirrored, its group."""
    if not m.rollback:
        return (), (), ()
    if m.application != "kafka-streams":
        return (topic,), (f"{TARGET}.{topic}",), (group,)
    back = (topic, *changelog)
    return back, back, (group,) if changelog else ()


def login(handle: ClusterHandle, role: str) -> dict:
    """A role's settings on a cluster: its own login there on sasl_ssl, the cluster's else."""
    return {**handle.client_config, **acls.login(handle.security, role)}


def _shown(props: dict[str, str]) -> dict[str, str]:
    """MirrorMaker's configuration as the manifest records it: logins redacted."""
    return {k: ("(redacted)" if k.endswith("sasl.jaas.config") else v) for k, v in props.items()}
