"""`cluster up|status|down|fault` and `smoke`: an embedded cluster kept running, and a quick check of one."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from replaybench.cli.app import Group, cli
from replaybench.clusters import control
from replaybench.clusters.artifacts import default_cache_dir
from replaybench.clusters.broker_processes import BrokerProcesses, broker_name
from replaybench.clusters.platform import ACTIONS


@cli.group(cls=Group)
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


@cluster.command("fault")
@click.argument("action", type=click.Choice(list(ACTIONS)))
@click.option("--broker", type=click.IntRange(1, 9), required=True)
@_dir_option
def cluster_fault(action: str, broker: int, root: Path | None) -> None:
    """Kill, restart, replace (empty disk), pause or resume one broker of a running cluster.
    Usable as the hooks of a cluster profile."""
    cluster = control.attach(root or control.default_cluster_dir(), default_cache_dir())
    processes = BrokerProcesses(cluster, [n.node_id for n in cluster.nodes])
    act = {"kill": processes.kill, "restart": processes.restart, "replace": processes.replace,
           "pause": processes.pause, "resume": processes.resume}[action]
    act(broker_name(broker))
    click.echo(f"broker {broker}: {action} done")


@cluster.command("drill", hidden=True, context_settings={"ignore_unknown_options": True})
@click.pass_context
def cluster_drill(ctx: click.Context, **_) -> None:
    """The former name of `cluster fault`, kept for profiles whose hooks call it."""
    ctx.forward(cluster_fault)


for _param in cluster_fault.params:   # the old name takes the same arguments
    cluster_drill.params.append(_param)


@cli.command("smoke")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True)
@click.option("--keys", type=click.IntRange(1), default=50_000, show_default=True)
@click.option("--records", type=click.IntRange(1), default=200_000, show_default=True)
def smoke(brokers: int, keys: int, records: int) -> None:
    """Start an embedded cluster, seed a changelog, restore and verify it, stop the cluster."""
    from replaybench.engine.smoke import run_smoke

    result = run_smoke(default_cache_dir(), brokers, keys, records)
    for line in result.lines():
        click.echo(line)
    sys.exit(0 if result.verification.exact else 1)


@cli.command("check", hidden=True, context_settings={"ignore_unknown_options": True})
@click.pass_context
def check_alias(ctx: click.Context, **_) -> None:
    """Deprecated spelling of `smoke` (one release)."""
    click.echo("replaybench: `check` is now `smoke`; the old name goes in the next release",
               err=True)
    ctx.forward(smoke)


for _param in smoke.params:   # the alias takes the same options
    check_alias.params.append(_param)
