"""The two clusters of a migration run: each as the workload names it (an embedded platform
or a cluster profile, in its own security mode), refused in one line before anything starts,
opened side by side, and checked reachable and distinct."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from replaybench.clusters import health, profile, registry
from replaybench.clusters.opening import ClusterChoice, open_cluster
from replaybench.clusters.platform import ClusterHandle
from replaybench.engine import platform_watch
from replaybench.errors import ReplaybenchError, UsageError

REACH_TIMEOUT_S = 10.0
SOURCE, TARGET = "source", "target"   #: the clusters' aliases in MirrorMaker (topic prefixes)


def check_choices(choices: list[ClusterChoice]) -> None:
    """Each cluster as the workload names it, refused in one line before anything starts."""
    for field, choice in zip(("source", "target"), choices):
        try:   # one line, before anything starts
            if not (choice.profile or choice.platform in registry.names()):
                raise UsageError(f"{choice.platform}: neither a platform "
                                 f"({', '.join(registry.names())}) nor a profile (.yaml)")
            choice.check()
            if choice.profile:
                profile.load(choice.profile)
        except UsageError as exc:
            raise UsageError(f"migration.{field}: {exc}") from None


def open_both(stack: ExitStack, choices: list[ClusterChoice],
               note) -> list[ClusterHandle]:
    """Both clusters, started side by side (each start is mostly waiting on its JVMs); each
    one that opened is stopped when `stack` closes, also when the other failed to open."""
    managers = [open_cluster(choice, note) for choice in choices]
    pool = ThreadPoolExecutor(len(managers))
    futures = [pool.submit(manager.__enter__) for manager in managers]
    try:
        return [future.result() for future in futures]   # the first error, or Ctrl-C
    finally:
        # whatever ended the wait: every cluster that did open is stopped with the stack
        pool.shutdown(wait=True)
        for manager, future in zip(managers, futures):
            if not future.cancelled() and future.exception() is None:
                stack.push(manager)


def choice(name: str, security: str | None, request, side: str) -> ClusterChoice:
    """A platform name (embedded; its servers on the budget's cluster cores, if one is given;
    secured as the workload says for this side, else as --security) or a cluster profile
    (.yaml, which brings its own security: a mode asked for it is one line)."""
    if name.endswith((".yaml", ".yml")):
        if security:
            raise UsageError(f"migration.{side}_security: {side} is a profile ({name}): it "
                             "brings its own security, in its client config")
        return ClusterChoice(request.cache_dir, profile=Path(name))
    budget = request.cpu_budget
    return ClusterChoice(request.cache_dir, platform=name, brokers=request.brokers or 1,
                         security=security or request.security,
                         cpus=budget.cluster if budget else None, monitor=request.monitor)


def check_request(request) -> None:
    given = [flag for flag, value in (("--bootstrap", request.bootstrap),
                                      ("--cluster-profile", request.profile),
                                      ("--replay", None))
             if value]
    if given:
        raise UsageError(f"{given[0]}: a migration names its two clusters in the workload "
                         "(migration.source, migration.target: a platform or a profile file)")
    if request.monitor:
        platform_watch.check_available()


def check_clusters(source: ClusterHandle, target: ClusterHandle) -> None:
    """Both reachable, and not the same cluster (one line, before anything is written)."""
    ids = []
    for name, handle in ((SOURCE, source), (TARGET, target)):
        try:
            health.check_reachable(handle.client_config, REACH_TIMEOUT_S)
        except ReplaybenchError as exc:
            raise UsageError(f"migration.{name}: {exc}") from None
        ids.append(cluster_id(handle.client_config))
    if ids[0] and ids[0] == ids[1]:
        raise UsageError(f"migration.source and migration.target are the same cluster "
                         f"(cluster id {ids[0]} at {source.info.bootstrap})")


def cluster_id(config: dict) -> str | None:
    admin = health.admin(config["bootstrap.servers"],
                         {k: v for k, v in config.items() if k != "bootstrap.servers"})
    try:
        return admin.describe_cluster(request_timeout=REACH_TIMEOUT_S).result().cluster_id
    except Exception:  # noqa: BLE001 - a broker without DescribeCluster: compare addresses
        return config["bootstrap.servers"]
