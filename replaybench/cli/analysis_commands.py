"""`compare`, `history`, `plan`, `report`, `rejudge`, `export-hdr`: stored runs read back."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from replaybench.cli.app import cli, output_file
from replaybench.errors import UsageError


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


@cli.command("plan")
@click.option("--results", "results_dir", type=click.Path(path_type=Path), required=True,
              help="Runs to fit (a sweep over storm.readers is best).")
@click.option("--state-size", required=True, help="e.g. 2TiB")
@click.option("--rto", required=True, help="Recovery-time objective, e.g. 15m")
@click.option("--live-rate", help="Live traffic during the restore, e.g. 200MB/s")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Where plan.parquet, plan.csv and cost.parquet go.")
@click.option("--prices", type=click.Path(path_type=Path), metavar="FILE",
              help="A price sheet (YAML) over the default one (replaybench/analysis/price_sheet.yaml).")
def plan_command(results_dir: Path, state_size: str, rto: str, live_rate: str | None,
                 out_dir: Path | None, prices: Path | None) -> None:
    """Readers, restore time, live latency and headroom for a state size and an RTO."""
    from replaybench.analysis import cost, plan
    from replaybench.results import runs
    sheet = cost.load_prices(prices)
    loaded = runs.load_runs(results_dir)
    result = plan.make_plan(loaded, plan.parse_size(state_size), plan.parse_duration(rto),
                            plan.parse_rate(live_rate) if live_rate else None,
                            sheet.readers_per_instance)
    costs = cost.restore_costs(loaded, sheet, result.state_bytes, result.rto_s)
    out_dir = out_dir or results_dir / "plan"
    parquet, _ = plan.write(result, out_dir)
    readers = result.readers if result.readers is not None else f"none reaches it (max {plan.MAX_READERS})"
    for line in (f"readers needed:       {readers}",
                 f"predicted restore:    {result.restore_time_s:,.0f} s at "
                 f"{result.restore_mb_per_s:,.1f} MB/s "
                 f"(RTO {result.rto_s:,.0f} s, headroom {result.headroom_s:+,.0f} s)",
                 f"reader nodes:         {result.reader_nodes or 'none reaches it'} "
                 f"({result.readers_per_node} readers per node, readers_per_instance in the "
                 f"price sheet; measured on at most {result.measured_nodes} node(s))",
                 f"live produce p99:     {_opt_ms(result.live_p99_ms)} during the restore",
                 f"live produce p99.9:   {_opt_ms(result.live_p99_9_ms)}",
                 f"measured on:          readers {result.measured_readers}, MB/s {result.measured_mb_per_s}"):
        click.echo(line)
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    for line in cost.render(costs, sheet):
        click.echo(line)
    cost.write(costs, out_dir)
    click.echo(f"plan: {parquet} (+ plan.csv, cost.parquet)")


def _opt_ms(value: float | None) -> str:
    return "unknown (no live traffic measured)" if value is None else f"{value:,.1f} ms"


@cli.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "out", type=click.Path(path_type=Path), default=Path("report.html"),
              show_default=True, callback=output_file)
@click.option("--thresholds", type=click.Path(path_type=Path), metavar="FILE",
              help="The team's thresholds for the scorecard section (see `scorecard`).")
def report_command(run_dirs: tuple[Path, ...], out: Path, thresholds: Path | None) -> None:
    """One self-contained HTML file with charts for these runs, side by side, and the
    scorecard of their platforms (with any compat results among them)."""
    from replaybench.analysis import report, scorecard
    from replaybench.analysis import thresholds as thresholds_mod
    from replaybench.results import evidence
    limits = thresholds_mod.load(thresholds)
    loaded, compats = evidence.load(list(run_dirs))
    cards = scorecard.build(loaded, compats, limits)
    click.echo(f"report: {report.write(loaded, out, cards)} ({len(loaded)} run(s))")


@cli.command("rejudge")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--thresholds", type=click.Path(path_type=Path), metavar="FILE",
              help="The team's thresholds: its restore_judge, interference_judge and "
                   "migration_max_duplicates sections (docs/verdicts.md).")
@click.option("--all", "every", is_flag=True, help="List every verdict, not only those changed.")
def rejudge_command(paths: tuple[Path, ...], thresholds: Path | None, every: bool) -> None:
    """Judge stored runs again from their files alone and print what changed (nothing is
    written). Exit 0 when no verdict changed, 1 when one did."""
    from replaybench.analysis import rejudge
    from replaybench.analysis import thresholds as thresholds_mod
    from replaybench.results import runs
    limits = thresholds_mod.load(thresholds)
    loaded = [run for path in paths for run in runs.load_runs(path)]
    changed = False
    for run in loaded:
        rows = rejudge.rejudge(run, limits)
        changed = changed or any(r.changed for r in rows)
        click.echo(rejudge.render(run.path, rows, every))
    sys.exit(1 if changed else 0)


@cli.command("export-hdr")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--role", default="producer", show_default=True)
@click.option("--histogram", default="ack_intended", show_default=True,
              help="The histogram's name, e.g. ack_intended.")
# the old spelling, an option of its own so that its use is seen and said
@click.option("--metric", "old_histogram", hidden=True, help="Deprecated: --histogram.")
@click.option("-o", "out", type=click.Path(path_type=Path), required=True,
              callback=output_file)
def export_hdr_command(run_dir: Path, role: str, histogram: str, old_histogram: str | None,
                       out: Path) -> None:
    """A stored histogram as an HdrHistogram log (one interval per phase)."""
    from replaybench.analysis import interop
    from replaybench.results import runs
    if old_histogram is not None:
        click.echo("replaybench: export-hdr --metric is now --histogram; the old name goes in "
                   "the next release", err=True)
        histogram = old_histogram
    count = interop.export_hdr_log(runs.load_run(run_dir), role, histogram, out)
    if not count:
        raise UsageError(f"{run_dir}: no {role} {histogram} histogram in this run")
    click.echo(f"{out}: {count} interval(s)")
