"""Command line: each command parses its options, calls one function, prints the outcome."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from replaybench import workload
from replaybench.clusters import control
from replaybench.clusters.artifacts import default_cache_dir
from replaybench.errors import ReplaybenchError

EXIT_RUN_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Turns a ReplaybenchError into one line on stderr and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReplaybenchError as exc:
            click.echo(f"replaybench: {exc}", err=True)
            ctx.exit(EXIT_USER_ERROR)


@click.group(cls=_Group)
@click.version_option(package_name="replaybench")
def cli() -> None:
    """Restore/replay benchmarks for Kafka-compatible clusters."""


@cli.group(cls=_Group)
def cluster() -> None:
    """A local Apache Kafka cluster (KRaft) on 127.0.0.1, run in the background."""


_dir_option = click.option("--dir", "root", type=click.Path(path_type=Path), default=None,
                           help="Cluster folder (default: ~/.local/state/replaybench/cluster).")


@cluster.command("up")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="First broker port (default: free ports).")
@_dir_option
def cluster_up(brokers: int, port: int | None, root: Path | None) -> None:
    """Start the cluster; the last line printed is its bootstrap servers."""
    root = root or control.default_cluster_dir()
    started = control.up(root, brokers, default_cache_dir(), port)
    click.echo(f"{brokers} broker(s) ready in {root}", err=True)
    click.echo(started.bootstrap)


@cluster.command("status")
@_dir_option
def cluster_status(root: Path | None) -> None:
    """Each broker's state; exit 1 if any is not up."""
    result = control.status(root or control.default_cluster_dir(), default_cache_dir())
    for node_id, state in sorted(result.brokers.items()):
        click.echo(f"broker {node_id}: {state}")
    click.echo(result.bootstrap)
    sys.exit(0 if result.healthy else 1)


@cluster.command("down")
@_dir_option
def cluster_down(root: Path | None) -> None:
    """Stop the cluster's brokers by pid (SIGTERM, then SIGKILL)."""
    stopped = control.down(root or control.default_cluster_dir(), default_cache_dir())
    click.echo(f"stopped {stopped} broker(s)")


@cli.command("check")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True)
@click.option("--keys", type=click.IntRange(1), default=50_000, show_default=True)
@click.option("--records", type=click.IntRange(1), default=200_000, show_default=True)
def check(brokers: int, keys: int, records: int) -> None:
    """Start an embedded cluster, seed a changelog, restore and verify it, stop the cluster."""
    from replaybench.check import run_check

    result = run_check(default_cache_dir(), brokers, keys, records)
    for line in result.lines():
        click.echo(line)
    sys.exit(0 if result.verification.exact else 1)


@cli.group(cls=_Group)
def workloads() -> None:
    """Workload files: list the shipped ones, validate or show one."""


def _workload_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    return path if path.suffix in (".yaml", ".yml") else _WORKLOADS_DIR / f"{name_or_path}.yaml"


_WORKLOADS_DIR = Path(__file__).resolve().parent.parent / "workloads"
_set_option = click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
                           help="Override a field, e.g. --set storm.readers=8.")
_scale_option = click.option("--scale", type=click.Choice(list(workload.SCALES)),
                             default="default", show_default=True,
                             help="Scale sizes and durations (smoke: under a minute).")


@workloads.command("list")
def workloads_list() -> None:
    for path in sorted(_WORKLOADS_DIR.glob("*.yaml")):
        click.echo(f"{path.stem}: {workload.load(path).description}")


@workloads.command("validate")
@click.argument("name_or_path")
@_set_option
@_scale_option
def workloads_validate(name_or_path: str, overrides: tuple[str, ...], scale: str) -> None:
    spec = workload.load(_workload_path(name_or_path), list(overrides), scale)
    click.echo(f"{spec.name}: valid (spec hash {spec.hash})")


@workloads.command("show")
@click.argument("name_or_path")
@_set_option
@_scale_option
def workloads_show(name_or_path: str, overrides: tuple[str, ...], scale: str) -> None:
    """The resolved spec, defaults filled in, as YAML."""
    spec = workload.load(_workload_path(name_or_path), list(overrides), scale)
    click.echo(yaml.safe_dump({**spec.to_dict(), "hash": spec.hash}, sort_keys=False).rstrip())


@cli.command("run")
@click.option("--workload", "workload_name", default="restore-storm", show_default=True,
              help="A shipped workload name or a path to a YAML file.")
@_set_option
@_scale_option
@click.option("--bootstrap", metavar="HOST:PORT", help="An existing cluster to run against.")
@click.option("--client-config", type=click.Path(path_type=Path), metavar="FILE",
              help="librdkafka properties (key=value lines; ${ENV} references) for --bootstrap.")
@click.option("--cluster", "cluster_kind", type=click.Choice(["kafka"]), default="kafka",
              show_default=True, help="The embedded cluster to start when no --bootstrap is given.")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True)
@click.option("--ray-address", metavar="ADDR", help="Run the actors on this Ray cluster.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
@click.option("--recreate-topics", is_flag=True,
              help="Delete and recreate topics named in the workload that already exist.")
def run_command(workload_name: str, overrides: tuple[str, ...], scale: str, bootstrap: str | None,
                client_config: Path | None, cluster_kind: str, brokers: int,
                ray_address: str | None, results_dir: Path, recreate_topics: bool) -> None:
    """Seed a changelog, run live traffic, restore it in parallel, write results/<run-id>/."""
    from rich.console import Console

    from replaybench import progress, runner
    if client_config and not bootstrap:
        raise ReplaybenchError("--client-config applies to --bootstrap clusters only")
    request = runner.RunRequest(_workload_path(workload_name), default_cache_dir(), overrides,
                                scale, bootstrap, client_config, brokers, ray_address,
                                results_dir, recreate_topics)
    console = Console(stderr=False)
    try:
        with progress.RichDisplay(console) as display:
            outcome = runner.run(request, display)
    except KeyboardInterrupt:
        click.echo("replaybench: interrupted before anything was measured", err=True)
        sys.exit(EXIT_INTERRUPTED)
    for table in progress.summary_tables(outcome):
        console.print(table)
    click.echo(f"results: {outcome.run_dir}")
    sys.exit({"completed": 0, "aborted": EXIT_INTERRUPTED}.get(outcome.status, EXIT_RUN_FAILED))


def main() -> None:
    cli()
