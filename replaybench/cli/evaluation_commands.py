"""`compat`: the Kafka semantics a stateful job relies on, checked against one cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from replaybench.cli.app import EXIT_INTERRUPTED, EXIT_RUN_FAILED, cli
from replaybench.clusters.artifacts import default_cache_dir
from replaybench.clusters.opening import ClusterChoice
from replaybench.errors import UsageError


@cli.command("compat")
@click.option("--cluster", "cluster_kind", type=click.Choice(["kafka", "tiered", "s3"]),
              default="kafka", show_default=True,
              help="The embedded cluster to start when no --bootstrap or profile is given.")
@click.option("--bootstrap", metavar="HOST:PORT", help="An existing cluster to check.")
@click.option("--client-config", type=click.Path(path_type=Path), metavar="FILE",
              help="librdkafka properties (key=value lines; ${ENV} references) for --bootstrap.")
@click.option("--cluster-profile", type=click.Path(path_type=Path), metavar="FILE",
              help="An external cluster: bootstrap, client config, labels, drill hooks (YAML).")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True,
              help="Embedded kafka or tiered cluster size.")
@click.option("--checks", "checks", metavar="NAME,...",
              help="Only these checks (default: all; see docs/compat.md).")
@click.option("--compaction-wait", type=click.FloatRange(min=1), default=90.0, show_default=True,
              help="Seconds to wait for the broker's cleaner before compaction fails.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
def compat_command(cluster_kind: str, bootstrap: str | None, client_config: Path | None,
                   cluster_profile: Path | None, brokers: int, checks: str | None,
                   compaction_wait: float, results_dir: Path) -> None:
    """Check idempotence, transactions, groups, offsets, compaction, the Admin API, Kafka's own
    tools and a Kafka Streams application against a cluster. Exit 0: nothing failed (pass or
    unsupported), 1: a check failed."""
    from replaybench.evaluation import compat
    if client_config and not bootstrap:
        raise UsageError("--client-config applies to --bootstrap clusters only")
    if cluster_profile and bootstrap:
        raise UsageError("give --bootstrap or --cluster-profile, not both")
    request = compat.CompatRequest(
        ClusterChoice(default_cache_dir(), cluster_profile, bootstrap, cluster_kind, brokers),
        results_dir, client_config, compat.parse_checks(checks), compaction_wait)
    outcome = compat.run(request, lambda text: click.echo(text, err=True))
    for row in outcome.rows:
        click.echo(f"{row['check']:<27} {row['status']:<12} {row['received']}")
    click.echo(f"results: {outcome.compat_dir}")
    if outcome.status == "aborted":
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_RUN_FAILED if outcome.failed else 0)
