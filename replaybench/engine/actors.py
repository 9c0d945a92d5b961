"""The one Ray actor class: a shell that holds a plain role object and forwards calls to it.

All logic lives in the roles (roles/), which are tested without Ray. Actors ask for no CPU so a
2-core laptop can host a dozen of them, and are spread over the Ray cluster's nodes when there
are several: the coordinator never knows or cares where they run.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from replaybench.clusters.cpu_budget import affinity
from replaybench.engine import ray_auth
from replaybench.engine.node_placement import Node
from replaybench.errors import ClusterError
from replaybench.meters.self_noise import HiccupMeter, ProcessCpu
from replaybench.meters.snapshots import Snapshot


class RoleActor:
    """Every snapshot the role returns also carries the actor process's own noise: its CPU
    time in the interval (counter `cpu_ns`) and its hiccups (histogram `hiccup`)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self.role = build()
        self.hiccups = HiccupMeter().start()
        self.cpu = ProcessCpu()

    def call(self, method: str, *args: Any) -> Any:
        out = getattr(self.role, method)(*args)
        if isinstance(out, Snapshot):
            out.counters["cpu_ns"] = self.cpu.take()
            if (blob := self.hiccups.take()) is not None:
                out.histograms["hiccup"] = blob
        return out

    def where(self) -> dict[str, str]:
        import ray
        return {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "pid": str(os.getpid()), "cpus": affinity(os.getpid())}


def spawn(build: Callable[[], Any], name: str, node_id: str | None = None) -> Any:
    """Start one actor around build() on that node (hard affinity; node_placement.py chooses);
    returns its handle."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    strategy = NodeAffinitySchedulingStrategy(node_id, soft=False) if node_id else "DEFAULT"
    return ray.remote(RoleActor).options(num_cpus=0, max_restarts=0, scheduling_strategy=strategy,
                                         name=None).remote(build)


def alive_nodes() -> list[Node]:
    """The Ray cluster's alive nodes with their labels (Ray's own ray.io/* labels left out)."""
    import ray
    return [Node(n["NodeID"], f"{n['NodeManagerAddress']}:{n['NodeManagerPort']}",
                 {k: v for k, v in (n.get("Labels") or {}).items() if not k.startswith("ray.io/")},
                 head="node:__internal_head__" in (n.get("Resources") or {}),
                 cpus=int((n.get("Resources") or {}).get("CPU", 0)))
            for n in ray.nodes() if n.get("Alive")]


@contextmanager
def ray_runtime(address: str | None) -> Iterator[dict[str, str]]:
    """Join the Ray cluster at `address` (`auto`: the one running here; none given: the
    cluster of the `ray job submit` job this runs in, from RAY_ADDRESS), or start a private
    local one and stop it after.

    An already initialised Ray (a test session's) is used as is. The local one lives in its own
    short temp dir, so its processes are identifiable and all stop with ray.shutdown().
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # When several actors fail together the run reports the first in one line; Ray would print
    # the others' tracebacks as "unhandled errors" when their results are dropped.
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    if address is None or address.split(":")[0] in ("127.0.0.1", "localhost"):
        # Ray otherwise swaps loopback for the host's routable address, and binds there. Read
        # when ray is first imported, hence set before the import below.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    if address is None:
        # A private local Ray in token mode, as Ray (2.60) picks for a new local cluster anyway,
        # but chosen here: left unset, Ray says so on the user's stderr at every run. Read when
        # ray is first imported, hence set before the import below.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    auth = ray_auth.prepare(address) if address else None   # before Ray reads its config
    import ray
    if ray.is_initialized():
        yield _describe(ray)
        return
    if address:
        try:
            ray_auth.join(ray, address)
            yield {**_describe(ray), "temp_dir": "", **({"auth": auth} if auth else {})}
        finally:
            ray.shutdown()
        return
    with _private_ray(ray) as temp_dir:
        yield {**_describe(ray), "temp_dir": temp_dir}


@contextmanager
def _private_ray(ray) -> Iterator[str]:
    """A local Ray of this process's own, in a short temp dir of its own; yields the dir.

    A start that fails is one line. It is not tried again: on a loaded machine its raylet once
    did not register within Ray's own 30 s ("The current node timed out during startup"), but
    Ray 2.60 in token mode refuses a second start in the same process (InvalidAuthToken, seen
    in a test that tried)."""
    temp_dir = tempfile.mkdtemp(prefix="rb-ray-", dir="/tmp")
    try:
        try:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, configure_logging=False,
                     object_store_memory=256 << 20, _temp_dir=temp_dir, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
        except Exception as exc:  # noqa: BLE001 - Ray raises bare Exceptions at start
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ClusterError(f"a local Ray did not start: {first}") from None
        yield temp_dir
    finally:   # also when Ray failed to start: what it started stops, its folder goes
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _describe(ray) -> dict[str, str]:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"ray_version": ray.__version__, "ray_nodes": str(len(nodes)),
            "ray_address": ray.get_runtime_context().gcs_address}
