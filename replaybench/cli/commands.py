"""Command line: each command parses its options, calls one function, prints the outcome."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import yaml

from replaybench.clusters import control
from replaybench.clusters.artifacts import default_cache_dir
from replaybench.engine import workload
from replaybench.errors import ReplaybenchError, RunError, UsageError

EXIT_RUN_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Turns a ReplaybenchError into one line on stderr, not a traceback: exit 1 for a run
    that failed (RunError), 2 for input or an environment to fix (UsageError)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReplaybenchError as exc:
            click.echo(f"replaybench: {exc}", err=True)
            ctx.exit(EXIT_RUN_FAILED if isinstance(exc, RunError) else EXIT_USER_ERROR)


def _output_file(ctx: click.Context, param: click.Parameter, out: Path | None) -> Path | None:
    """An output file's folder must exist and be writable: refused before any work is done."""
    if out is None:
        return None
    folder = out.parent
    if not folder.is_dir():
        raise UsageError(f"{out}: cannot write: folder {folder} does not exist")
    if (out.exists() and out.is_dir()) or not os.access(folder, os.W_OK):
        raise UsageError(f"{out}: cannot write: "
                         f"{'is a folder' if out.is_dir() else 'folder is not writable'}")
    return out


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


@cluster.command("drill")
@click.argument("action", type=click.Choice(["kill", "restart", "replace", "pause", "resume"]))
@click.option("--broker", type=click.IntRange(1, 9), required=True)
@_dir_option
def cluster_drill(action: str, broker: int, root: Path | None) -> None:
    """Kill, restart, replace (empty disk), pause or resume one broker of a running cluster.
    Usable as the hooks of a cluster profile."""
    target = control.attach(root or control.default_cluster_dir(), default_cache_dir())
    getattr(target, action)(broker)
    click.echo(f"broker {broker}: {action} done")


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


@cli.group(cls=_Group)
def workloads() -> None:
    """Workload files: list the shipped ones, validate or show one."""


def _workload_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    return path if path.suffix in (".yaml", ".yml") else _WORKLOADS_DIR / f"{name_or_path}.yaml"


_WORKLOADS_DIR = Path(__file__).resolve().parents[2] / "workloads"
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
@click.option("--cluster", "cluster_kind", type=click.Choice(["kafka", "tiered", "s3"]),
              default="kafka", show_default=True,
              help="The embedded cluster to start when no --bootstrap is given: kafka (local "
                   "disk), tiered (Tiered Storage) or s3 (Tansu on a local S3 server).")
@click.option("--cluster-profile", type=click.Path(path_type=Path), metavar="FILE",
              help="An external cluster: bootstrap, client config, labels, drill hooks (YAML).")
@click.option("--brokers", type=click.IntRange(1, 9), default=None,
              help="Embedded cluster size (default: the workload's cluster.brokers, 1).")
@click.option("--ray-address", metavar="ADDR", help="Run the actors on this Ray cluster.")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True)
@click.option("--reference/--no-reference", default=True, show_default=True,
              help="With faults: first run the workload without them, on a fresh cluster, to "
                   "measure what the drills cost the restore.")
@click.option("--recreate-topics", is_flag=True,
              help="Delete and recreate topics named in the workload that already exist.")
@click.option("--replay", "replay_topic", metavar="TOPIC",
              help="Restore this existing topic read-only instead of a seeded changelog "
                   "(sets topic.existing=true, topic.name=TOPIC).")
def run_command(workload_name: str, overrides: tuple[str, ...], scale: str, bootstrap: str | None,
                client_config: Path | None, cluster_kind: str, cluster_profile: Path | None,
                brokers: int | None, ray_address: str | None, results_dir: Path,
                reference: bool, recreate_topics: bool, replay_topic: str | None) -> None:
    """Seed a changelog, run live traffic, restore it in parallel, write results/<run-id>/."""
    from rich.console import Console

    from replaybench.cli import display
    from replaybench.engine import runner
    if client_config and not bootstrap:
        raise UsageError("--client-config applies to --bootstrap clusters only")
    if cluster_profile and bootstrap:
        raise UsageError("give --bootstrap or --cluster-profile, not both")
    if replay_topic is not None:
        overrides = (*overrides, "topic.existing=true", f"topic.name={replay_topic}")
    request = runner.RunRequest(_workload_path(workload_name), default_cache_dir(), overrides,
                                scale, bootstrap, client_config, brokers, ray_address,
                                results_dir, recreate_topics, profile=cluster_profile,
                                cluster_kind=cluster_kind, reference=reference)
    console = Console(stderr=False)
    try:
        with display.RichDisplay(console) as live:
            outcome = runner.run(request, live)
    except KeyboardInterrupt:
        click.echo("replaybench: interrupted before anything was measured", err=True)
        sys.exit(EXIT_INTERRUPTED)
    for table in display.summary_tables(outcome):
        console.print(table)
    click.echo(f"results: {outcome.run_dir}")
    sys.exit({"completed": 0, "aborted": EXIT_INTERRUPTED}.get(outcome.status, EXIT_RUN_FAILED))


@cli.command("compare")
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("contender", type=click.Path(path_type=Path))
@click.option("--fail", "rules", multiple=True, metavar="METRIC:±N%",
              help="Regression rule, e.g. 'restore_time:+10%' (defaults: see the README).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "json"]), default="table",
              show_default=True)
def compare_command(baseline: Path, contender: Path, rules: tuple[str, ...], fmt: str) -> None:
    """Compare runs (a run dir, or a dir of repetitions). Exit 0 fine, 1 regression,
    2 not comparable or bad input."""
    from replaybench.analysis import compare
    from replaybench.results import runs
    base, cont = runs.load_runs(baseline), runs.load_runs(contender)
    parsed = [compare.Rule.parse(r) for r in rules] or compare.default_rules(base, cont)
    result = compare.compare(base, cont, parsed)
    if fmt == "json":
        click.echo(compare.render_json(result))
    elif fmt == "markdown":
        click.echo(compare.render_markdown(result))
    else:
        click.echo(compare.render_table(result))
    sys.exit(result.exit_code)


@cli.command("history")
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option("--metric", required=True, help="e.g. restore_time or storm.produce.p99")
@click.option("--workload", "workload_name", help="Only runs of this workload.")
@click.option("--threshold", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="Step size to flag, in %.")
@click.option("--window", default=5, show_default=True, type=click.IntRange(min=1),
              help="Previous runs a step is judged against.")
def history_command(results_dir: Path, metric: str, workload_name: str | None, threshold: float,
                    window: int) -> None:
    """A metric over runs in time order; exit 1 if the newest run is a regression step."""
    from replaybench.analysis import history
    from replaybench.results import runs
    found = [r for r in runs.load_runs(results_dir)
             if not workload_name or r.manifest["workload"]["name"] == workload_name]
    if not found:
        raise UsageError(f"{results_dir}: no runs of workload {workload_name!r}")
    runs.value(found[:1], metric)  # an unknown metric name fails here, in one line
    points = history.history(found, metric, window, threshold / 100)
    for p in points:
        shown = "—" if p.value is None else f"{p.value:,.3f}"
        change = "" if p.change_pct is None else f"{p.change_pct:+.1%}"
        click.echo(f"{p.started[:19]:<20} {p.run_id:<45} {shown:>12} {change:>8}  {p.step}"
                   + (f" ({p.caveat})" if p.caveat else ""))
    sys.exit(1 if points and points[-1].step == "regression" else 0)


@cli.command("sweep")
@click.option("--workload", "workload_name", default="restore-storm", show_default=True)
@click.option("--vary", "vary", multiple=True, required=True, metavar="FIELD=V1,V2,...")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1),
              help="Repetitions of each combination.")
@_set_option
@_scale_option
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
    base = runner.RunRequest(_workload_path(workload_name), default_cache_dir(), overrides, scale,
                             bootstrap, None, brokers, ray_address, results_dir)
    with display.RichDisplay(Console()) as live:
        sweep_dir, outcomes = sweep.sweep(base, sweep.parse_vary(vary), repeat, live)
    for out in outcomes:
        g = out.summary.groups[0] if out.summary.groups else None
        click.echo(f"{out.run_dir.name}: {out.status}" + (
            f", restore {g.restore_time_s:.2f} s, {g.mb_per_s:.1f} MB/s" if g else ""))
    click.echo(f"results: {sweep_dir}")
    sys.exit(0 if all(o.status == "completed" for o in outcomes) else EXIT_RUN_FAILED)


@cli.command("plan")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), required=True,
              help="Runs to fit (a sweep over storm.readers is best).")
@click.option("--state-size", required=True, help="e.g. 2TiB")
@click.option("--rto", required=True, help="Recovery-time objective, e.g. 15m")
@click.option("--live-rate", help="Live traffic during the restore, e.g. 200MB/s")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Where plan.parquet and plan.csv go.")
def plan_command(results_dir: Path, state_size: str, rto: str, live_rate: str | None,
                 out_dir: Path | None) -> None:
    """Readers, restore time, live latency and headroom for a state size and an RTO."""
    from replaybench.analysis import plan
    from replaybench.results import runs
    result = plan.make_plan(runs.load_runs(results_dir), plan.parse_size(state_size),
                            plan.parse_duration(rto), plan.parse_rate(live_rate) if live_rate else None)
    out_dir = out_dir or results_dir / "plan"
    parquet, _ = plan.write(result, out_dir)
    readers = result.readers if result.readers is not None else f"none reaches it (max {plan.MAX_READERS})"
    for line in (f"readers needed:       {readers}",
                 f"predicted restore:    {result.restore_time_s:,.0f} s at "
                 f"{result.restore_mb_per_s:,.1f} MB/s "
                 f"(RTO {result.rto_s:,.0f} s, headroom {result.headroom_s:+,.0f} s)",
                 f"live produce p99:     {_opt_ms(result.live_p99_ms)} during the restore",
                 f"live produce p99.9:   {_opt_ms(result.live_p99_9_ms)}",
                 f"measured on:          readers {result.measured_readers}, MB/s {result.measured_mb_per_s}"):
        click.echo(line)
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    click.echo(f"plan: {parquet} (+ plan.csv)")


def _opt_ms(value: float | None) -> str:
    return "unknown (no live traffic measured)" if value is None else f"{value:,.1f} ms"


@cli.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "out", type=click.Path(path_type=Path), default=Path("report.html"),
              show_default=True, callback=_output_file)
def report_command(run_dirs: tuple[Path, ...], out: Path) -> None:
    """One self-contained HTML file with charts for these runs, side by side."""
    from replaybench.analysis import report
    from replaybench.results import runs
    loaded = [run for d in run_dirs for run in runs.load_runs(d)]
    click.echo(f"report: {report.write(loaded, out)} ({len(loaded)} run(s))")


@cli.command("export-hdr")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--role", default="producer", show_default=True)
@click.option("--histogram", "--metric", "histogram", default="ack_intended", show_default=True,
              help="The histogram's name, e.g. ack_intended (--metric: deprecated spelling).")
@click.option("-o", "out", type=click.Path(path_type=Path), required=True,
              callback=_output_file)
def export_hdr_command(run_dir: Path, role: str, histogram: str, out: Path) -> None:
    """A stored histogram as an HdrHistogram log (one interval per phase)."""
    from replaybench.analysis import interop
    from replaybench.results import runs
    if "--metric" in sys.argv:
        click.echo("replaybench: export-hdr --metric is now --histogram; the old name goes in "
                   "the next release", err=True)
    count = interop.export_hdr_log(runs.load_run(run_dir), role, histogram, out)
    if not count:
        raise UsageError(f"{run_dir}: no {role} {histogram} histogram in this run")
    click.echo(f"{out}: {count} interval(s)")


@workloads.command("import-omb")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("-o", "out", type=click.Path(path_type=Path), help="Write here instead of stdout.",
              callback=_output_file)
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


def main() -> None:
    cli()
