"""`run`, `sweep` and `workloads ...`: what runs, and running it."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml

from replaybench.cli.app import (
    EXIT_INTERRUPTED,
    EXIT_RUN_FAILED,
    WORKLOADS_DIR,
    Group,
    cli,
    output_file,
    platform_option,
    scale_option,
    security_option,
    set_option,
    workload_path,
)
from replaybench.clusters import cpu_budget
from replaybench.clusters.artifacts import default_cache_dir
from replaybench.engine import workload
from replaybench.errors import UsageError


@cli.group(cls=Group)
def workloads() -> None:
    """Workload files: list the shipped ones, validate or show one."""


@workloads.command("list")
def workloads_list() -> None:
    for path in sorted(WORKLOADS_DIR.glob("*.yaml")):
        click.echo(f"{path.stem}: {workload.load(path).description}")


@workloads.command("validate")
@click.argument("name_or_path")
@set_option
@scale_option
def workloads_validate(name_or_path: str, overrides: tuple[str, ...], scale: str) -> None:
    spec = workload.load(workload_path(name_or_path), list(overrides), scale)
    click.echo(f"{spec.name}: valid (spec hash {spec.hash})")


@workloads.command("show")
@click.argument("name_or_path")
@set_option
@scale_option
def workloads_show(name_or_path: str, overrides: tuple[str, ...], scale: str) -> None:
    """The resolved spec, defaults filled in, as YAML."""
    spec = workload.load(workload_path(name_or_path), list(overrides), scale)
    click.echo(yaml.safe_dump({**spec.to_dict(), "hash": spec.hash}, sort_keys=False).rstrip())


@cli.command("run")
@click.option("--workload", "workload_name", default="restore-storm", show_default=True,
              help="A shipped workload name or a path to a YAML file.")
@set_option
@scale_option
@click.option("--bootstrap", metavar="HOST:PORT", help="An existing cluster to run against.")
@click.option("--client-config", type=click.Path(path_type=Path), metavar="FILE",
              help="librdkafka properties (key=value lines; ${ENV} references) for --bootstrap.")
@platform_option("when no --bootstrap or profile is given")
@click.option("--cluster-profile", type=click.Path(path_type=Path), metavar="FILE",
              help="An external cluster: bootstrap, client config, labels, fault hooks (YAML).")
@click.option("--brokers", type=click.IntRange(1, 9), default=None,
              help="Embedded cluster size (default: the workload's cluster.brokers, 1).")
@click.option("--ray-address", metavar="ADDR", help="Run the actors on this Ray cluster.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
@click.option("--reference/--no-reference", default=True, show_default=True,
              help="With faults: first run the workload without them, on a fresh cluster, to "
                   "measure what the faults cost the restore.")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(1, 50),
              help="With faults: this many pairs of runs without and with them, alternated; "
                   "what the faults cost is then a median with an interval and a verdict.")
@click.option("--recreate-topics", is_flag=True,
              help="Delete and recreate topics named in the workload that already exist.")
@security_option
@click.option("--drop-acl", "drop_acls", multiple=True, metavar="ROLE:OPERATION",
              help="sasl_ssl: leave this grant out (e.g. reader:READ), to see the error a "
                   "missing ACL gives.")
@click.option("--replay", "replay_topic", metavar="TOPIC",
              help="Restore this existing topic read-only instead of a seeded changelog "
                   "(sets topic.existing=true, topic.name=TOPIC).")
@click.option("--monitor", is_flag=True,
              help="Embedded cluster: its servers serve their own metrics (the Prometheus JMX "
                   "exporter in each broker), and a lag exporter the consumer groups' lag, to a "
                   "real Prometheus started for the run with alert rules; the series go into "
                   "platform_metrics.parquet, with checks that they showed the restore, each "
                   "fault and the consumers' lag, and which alerts fired (docs/monitoring.md).")
@click.option("--prometheus", "prometheus_url", metavar="URL",
              help="Read the platform's series from your own Prometheus instead (e.g. for an "
                   "external cluster), asking it the queries of --prometheus-queries; the "
                   "same table and checks as --monitor (docs/monitoring.md).")
@click.option("--prometheus-queries", type=click.Path(path_type=Path), metavar="FILE",
              help="With --prometheus: your YAML file of `name: PromQL` lines.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Serve the run's own live figures (phase, restore progress and rate, live "
                   "p99 and lag per role) on http://127.0.0.1:PORT/metrics while it runs.")
@click.option("--cluster-cpus", metavar="LIST",
              help="Embedded cluster: its servers run on these cores only (a cpu list: 0, 0-1, "
                   "0,2); the harness gets the others unless --harness-cpus says (recorded in "
                   "the manifest's cpu_budget).")
@click.option("--harness-cpus", metavar="LIST",
              help="The driver, its Ray and every actor run on these cores only.")
def run_command(workload_name: str, overrides: tuple[str, ...], scale: str, bootstrap: str | None,
                client_config: Path | None, platform_name: str, cluster_profile: Path | None,
                brokers: int | None, ray_address: str | None, results_dir: Path,
                reference: bool, repeat: int, recreate_topics: bool, security: str | None,
                drop_acls: tuple[str, ...], replay_topic: str | None, monitor: bool,
                prometheus_url: str | None, prometheus_queries: Path | None,
                metrics_port: int | None, cluster_cpus: str | None,
                harness_cpus: str | None) -> None:
    """Seed a changelog, run live traffic, restore it in parallel, write results/<run-id>/."""
    from rich.console import Console

    from replaybench.cli import display
    from replaybench.engine import runner
    if client_config and not bootstrap:
        raise UsageError("--client-config applies to --bootstrap clusters only")
    if cluster_profile and bootstrap:
        raise UsageError("give --bootstrap or --cluster-profile, not both")
    if harness_cpus and ray_address:
        raise UsageError("--harness-cpus: with --ray-address the actors run on the Ray "
                         "cluster's nodes, not on this machine's cores")
    if bool(prometheus_url) != bool(prometheus_queries):
        raise UsageError("--prometheus and --prometheus-queries go together: your server, and "
                         "the queries to ask it")
    if prometheus_url and monitor:
        raise UsageError("give --monitor (a Prometheus started for the run) or --prometheus "
                         "(your own), not both")
    budget = cpu_budget.budget(cluster_cpus, harness_cpus)
    if replay_topic is not None:
        overrides = (*overrides, "topic.existing=true", f"topic.name={replay_topic}")
    request = runner.RunRequest(workload_path(workload_name), default_cache_dir(), overrides,
                                scale, bootstrap, client_config, brokers, ray_address,
                                results_dir, recreate_topics, profile=cluster_profile,
                                platform_name=platform_name, reference=reference,
                                security=security, drop_acls=drop_acls, repeat=repeat,
                                monitor=monitor, metrics_port=metrics_port,
                                cpu_budget=budget, prometheus=prometheus_url,
                                prometheus_queries=prometheus_queries)
    console = Console(stderr=False)
    try:
        with display.RichDisplay(console) as live:
            outcome = runner.run(request, live)
    except KeyboardInterrupt:
        click.echo("replaybench: interrupted before anything was measured", err=True)
        sys.exit(EXIT_INTERRUPTED)
    for table in display.summary_tables(outcome):
        console.print(table)
    if outcome.fault_cost:
        click.echo(display.fault_cost_line(outcome.fault_cost))
    click.echo(f"results: {outcome.run_dir}")
    sys.exit({"completed": 0, "aborted": EXIT_INTERRUPTED}.get(outcome.status, EXIT_RUN_FAILED))


@cli.command("sweep")
@click.option("--workload", "workload_name", default="restore-storm", show_default=True)
@click.option("--vary", "vary", multiple=True, required=True, metavar="FIELD=V1,V2,...")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1),
              help="Repetitions of each combination.")
@set_option
@scale_option
@click.option("--bootstrap", metavar="HOST:PORT")
@click.option("--brokers", type=click.IntRange(1, 9), default=None)
@click.option("--ray-address", metavar="ADDR")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
def sweep_command(workload_name: str, vary: tuple[str, ...], repeat: int,
                  overrides: tuple[str, ...], scale: str, bootstrap: str | None, brokers: int | None,
                  ray_address: str | None, results_dir: Path) -> None:
    """Run every combination of the varied fields into one results set, tagged."""
    from rich.console import Console

    from replaybench.cli import display
    from replaybench.engine import runner, sweep
    base = runner.RunRequest(workload_path(workload_name), default_cache_dir(), overrides, scale,
                             bootstrap, None, brokers, ray_address, results_dir)
    with display.RichDisplay(Console()) as live:
        sweep_dir, outcomes = sweep.sweep(base, sweep.parse_vary(vary), repeat, live)
    for out in outcomes:
        g = out.summary.groups[0] if out.summary.groups else None
        click.echo(f"{out.run_dir.name}: {out.status}" + (
            f", restore {g.restore_time_s:.2f} s, {g.mb_per_s:.1f} MB/s" if g else ""))
    click.echo(f"results: {sweep_dir}")
    sys.exit(0 if all(o.status == "completed" for o in outcomes) else EXIT_RUN_FAILED)


@workloads.command("import-omb")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "out", type=click.Path(path_type=Path), help="Write here instead of stdout.",
              callback=output_file)
def workloads_import_omb(path: Path, out: Path | None) -> None:
    """An OpenMessaging Benchmark workload YAML as a replaybench workload."""
    from replaybench.analysis import interop
    text = interop.import_omb(path)
    workload.from_dict(yaml.safe_load(text), str(path))  # what we write must load
    if out:
        out.write_text(text)
        click.echo(f"{out}: written")
    else:
        click.echo(text.rstrip())
