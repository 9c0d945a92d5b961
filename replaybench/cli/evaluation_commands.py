"""`compat` and `scorecard`: a candidate platform checked, then judged go or no-go."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from replaybench.cli.app import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    cli,
    output_file,
    platform_option,
    security_option,
)
from replaybench.clusters.artifacts import default_cache_dir
from replaybench.clusters.opening import ClusterChoice
from replaybench.errors import UsageError


@cli.command("compat")
@platform_option("when no --bootstrap or profile is given")
@click.option("--bootstrap", metavar="HOST:PORT", help="An existing cluster to check.")
@click.option("--client-config", type=click.Path(path_type=Path), metavar="FILE",
              help="librdkafka properties (key=value lines; ${ENV} references) for --bootstrap.")
@click.option("--cluster-profile", type=click.Path(path_type=Path), metavar="FILE",
              help="An external cluster: bootstrap, client config, labels, fault hooks (YAML).")
@click.option("--brokers", type=click.IntRange(1, 9), default=1, show_default=True,
              help="Embedded kafka or tiered cluster size.")
@security_option
@click.option("--checks", "checks", metavar="NAME,...",
              help="Only these checks (default: all; see docs/compat.md).")
@click.option("--compaction-wait", type=click.FloatRange(min=1), default=90.0, show_default=True,
              help="Seconds to wait for the broker's cleaner before compaction fails.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
def compat_command(platform_name: str, bootstrap: str | None, client_config: Path | None,
                   cluster_profile: Path | None, brokers: int, security: str | None,
                   checks: str | None,
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
        ClusterChoice(default_cache_dir(), cluster_profile, bootstrap, platform_name, brokers,
                      security),
        results_dir, client_config, compat.parse_checks(checks), compaction_wait)
    outcome = compat.run(request, lambda text: click.echo(text, err=True))
    for row in outcome.rows:
        click.echo(f"{row['check']:<27} {row['status']:<12} {row['received']}")
    click.echo(f"results: {outcome.compat_dir}")
    if outcome.status == "aborted":
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_RUN_FAILED if outcome.failed else 0)


@cli.command("scorecard")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--thresholds", type=click.Path(path_type=Path), metavar="FILE",
              help="The team's thresholds (YAML; defaults in docs/scorecard.md).")
@click.option("--html", "html_out", type=click.Path(path_type=Path), callback=output_file,
              help="Also write the scorecard as a self-contained HTML page.")
def scorecard_command(paths: tuple[Path, ...], thresholds: Path | None,
                      html_out: Path | None) -> None:
    """Go/no-go per platform from stored runs and compat results: pass, partial or blocker per
    category with its evidence and rule. Exit 1 when any category is a blocker."""
    from replaybench.analysis import report, scorecard
    from replaybench.analysis import thresholds as thresholds_mod
    from replaybench.cli.scorecard_table import print_scorecards
    from replaybench.results import evidence
    limits = thresholds_mod.load(thresholds)
    runs, compats = evidence.load(list(paths))
    cards = scorecard.build(runs, compats, limits)
    print_scorecards(cards)
    if html_out:
        report.write_scorecard(cards, html_out)
        click.echo(f"scorecard: {html_out}")
    sys.exit(EXIT_RUN_FAILED if any(card.blocked for card in cards) else 0)
