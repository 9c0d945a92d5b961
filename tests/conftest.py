"""Fixtures that start real Kafka clusters, and a check that none outlives the session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from replaybench.clusters.artifacts import default_cache_dir
from replaybench.clusters.local_kafka import LocalKafkaCluster
from replaybench.clusters.processes import find_by_marker

from tests.worker_slices import dealt

_ROOT = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return default_cache_dir()


@pytest.fixture(scope="session")
def cluster_root(request, tmp_path_factory) -> Path:
    """Every server the tests start lives below this folder (its path marks their processes)."""
    root = tmp_path_factory.mktemp("servers")
    request.config.stash[_ROOT] = root
    return root


@pytest.fixture(scope="session")
def kafka1(cluster_root, cache_dir):
    with LocalKafkaCluster(cluster_root / "kafka1", 1, cache_dir=cache_dir).start() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kafka3(cluster_root, cache_dir, request):
    """Per module, not per session: its two modules are all that use it, and three idle
    brokers on each of three workers (four now) held a quarter of a core for the rest of the suite."""
    root = cluster_root / f"kafka3-{request.module.__name__.rsplit('.', 1)[-1]}"
    with LocalKafkaCluster(root, 3, cache_dir=cache_dir).start() as cluster:
        yield cluster


_CLUSTER_FIXTURES = {"kafka1", "kafka3", "cluster_root", "ray_local"}


def pytest_collection_modifyitems(config, items):
    """A test that takes a real cluster (or Ray) through a fixture is a `cluster` test, so that
    `pytest -m "not cluster"` runs the fast ones; modules that start clusters from the command
    line mark themselves."""
    for item in items:
        if _CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)


def pytest_configure(config):
    config.pluginmanager.register(_Order(), "replaybench-test-order")


class _Order:
    @pytest.hookimpl(trylast=True)   # after -m has deselected: what is ordered is what runs
    def pytest_collection_modifyitems(self, config, items):
        """Long tests first, the longest first: run in parallel (.ci/run), the quick ones
        then fill the workers' gaps instead of a long one starting last and running alone;
        each worker's first slice holds its share of them (worker_slices.py)."""
        items.sort(key=lambda item: (-_slow_s(item),
                                     item.get_closest_marker("cluster") is None))
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if workers > 1:
            items[:] = dealt(items, workers, _slow_s, _fixture_unit)


def _fixture_unit(item) -> str:
    """Tests of a module that share a module-scoped fixture: one unit; any other: itself."""
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    shared = any(d and d[-1].scope == "module" for d in defs.values())
    return item.module.__name__ if shared else item.nodeid


def _slow_s(item) -> float:
    """The seconds a `slow` marker says the test takes in the parallel suite (0: not slow)."""
    marker = item.get_closest_marker("slow")
    return float(marker.args[0]) if marker and marker.args else 0.0


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any server started below the session's folder is still running."""
    root = session.config.stash.get(_ROOT, None)
    if root is None:
        return
    leftovers = find_by_marker(str(root))
    for proc in leftovers:
        proc.kill()
    if leftovers:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            f"FAILED: {len(leftovers)} server process(es) outlived the tests: "
            f"{[p.pid for p in leftovers]}", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def ray_local():
    """One private local Ray for the in-process engine tests (starting one costs ~4 s)."""
    from replaybench.engine.actors import ray_runtime
    with ray_runtime(None) as info:
        yield info
