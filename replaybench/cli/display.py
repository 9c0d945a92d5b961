"""What `replaybench run` shows: a live status line while it runs, a summary table at the end."""

from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from replaybench.engine.run_state import Progress
from replaybench.engine.runner import Display, RunOutcome
from replaybench.results.summary import SATURATED, Summary, verdict_of


class RichDisplay(Display):
    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(Text(""), console=console, refresh_per_second=4, transient=True)
        self._phase = ""

    def __enter__(self) -> RichDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(*exc)

    def note(self, text: str) -> None:
        self.console.print(text)

    def tick(self, progress: Progress) -> None:
        if progress.phase != self._phase:
            self._phase = progress.phase
            self.console.print(f"[bold]{progress.phase}[/bold] at "
                               f"{progress.phase_started_ns / 1e9:.1f} s")
        self.live.update(Text(status_line(progress)))


def status_line(progress: Progress) -> str:
    """phase, elapsed, restore %, restore MB/s, live p99, consumer lag, from the latest tick."""
    latest = progress.latest
    parts = [f"{progress.phase:<9}", f"{progress.elapsed_ns / 1e9:6.1f} s"]
    if progress.restore_target_records:
        done = progress.restored_records / progress.restore_target_records
        parts.append(f"restore {min(done, 1.0):6.1%}")
    if "reader" in latest:
        parts.append(f"{latest['reader']['bytes_per_s'] / 1e6:7.1f} MB/s")
    if "seeder" in latest:
        parts.append(f"seeding {latest['seeder']['records_per_s']:,.0f} rec/s")
    if "producer" in latest:
        parts.append(f"live p99 {latest['producer']['p99_ns'] / 1e6:7.1f} ms")
    if "consumer" in latest:
        parts.append(f"lag {latest['consumer']['lag_records']:,}")
    return "  ".join(parts)


def summary_tables(outcome: RunOutcome) -> list[Table]:
    """Restore figures and verdict; then live latency per phase with the storm's inflation."""
    s: Summary = outcome.summary
    main = Table(title=f"{outcome.run_dir.name}: {outcome.status}")
    migration = outcome.record.migration_verdict if outcome.record else {}
    main.add_column("migration" if migration else "restore")
    main.add_column("value", justify="right")
    if migration:
        main.add_row("verdict", migration["verdict"] if migration["passed"]
                     else f"[bold red]{migration['verdict']}[/]")
    for g in s.groups:
        label = f"group {g.group} " if len(s.groups) > 1 else ""
        main.add_row(f"{label}restore time", f"{g.restore_time_s:.2f} s" if g.restore_time_s
                     else "not caught up")
        main.add_row(f"{label}throughput", f"{g.mb_per_s:.1f} MB/s, {g.records_per_s:,.0f} records/s")
        if g.readers and g.mode != "streams":
            main.add_row(f"{label}readers", str(g.readers))
        if g.client:
            main.add_row(f"{label}reader client", _CLIENTS.get(g.client, g.client))
        if g.mode == "streams":
            if g.time_to_running_s:
                main.add_row(f"{label}time to RUNNING", f"{g.time_to_running_s:.2f} s")
            main.add_row(f"{label}updates lost / applied twice",
                         f"{g.lost_updates:,} / {g.double_applied_updates:,}")
        if g.mode == "replay":
            main.add_row(f"{label}replayed", f"{g.records:,} records, {g.keys:,} keys "
                                             f"({g.dead_keys:,} deleted)")
        if g.verdict:
            main.add_row(f"{label}bound by", g.verdict if g.verdict == "cluster-bound" else
                         f"[bold red]{g.verdict}[/]: {g.verdict_reasons}")
    exact = "every offset accounted for" if any(g.mode == "replay" for g in s.groups) \
        else "exact"
    verdict = "not run" if not s.checks else f"{exact} ({s.checks} checks)" \
        if s.verification_passed else "FAILED: " + "; ".join(s.failed_checks[:3])
    main.add_row("verification", verdict)
    if outcome.reason:
        main.add_row("reason", outcome.reason)
    tables = [main]
    if migration.get("application") == "kafka-streams":
        tables.append(_streams_move_table(outcome.record.migration, migration))
    elif migration:
        tables.append(_migration_table(outcome.record.migration, migration))
    if s.live:
        tables.append(_latency_table(s))
    faults = outcome.record.faults if outcome.record else []
    if faults and migration:
        tables.append(_mirror_faults_table(faults, outcome.record.started_ns))
    elif faults:
        ft = Table(title="faults", caption=_reference_caption(faults))
        for col in ("fault", "at", "took", "stall", "p99.9", "URP", "URP gone", "fetched back"):
            ft.add_column(col, justify="left" if col == "fault" else "right")
        start = outcome.record.started_ns
        for f in faults:
            what = f"{f['action']} {f.get('target') or 'broker-' + str(f['broker'])}"
            if not f["started_ns"]:
                ft.add_row(what, "never", *["—"] * 6)
                continue
            ft.add_row(what,
                       f"{(f['started_ns'] - start) / 1e9:.1f} s", f"{f['duration_ns'] / 1e9:.1f} s",
                       f"{f['restore_stall_ns'] / 1e9:.0f} s", f"{f['produce_p99_9_ns'] / 1e6:.0f} ms",
                       str(f["under_replicated_max"]),
                       f"{f['under_replicated_cleared_ns'] / 1e9:.1f} s"
                       if f["under_replicated_cleared_ns"] else "—",
                       _size(_fetched_back(f)))
        tables.append(ft)
    if outcome.record and outcome.record.observability:
        tables.append(_observability_table(outcome.record.observability))
    return tables


def _observability_table(rows: list[dict]) -> Table:
    """--monitor: did the platform's own metrics show what happened (verdicts/observability)."""
    table = Table(title="the platform's monitoring (Prometheus)")
    for col in ("what", "showed", "after", "why"):
        table.add_column(col, justify="right" if col == "after" else "left")
    for r in rows:
        shown = "not judged" if r["passed"] is None else "yes" if r["passed"] \
            else "[bold red]no[/]"
        after = f"{r['delay_ns'] / 1e9:.1f} s" if r.get("delay_ns") is not None else "—"
        table.add_row(r["subject"], shown, after, r["reason"])
    return table


def _mirror_faults_table(faults: list[dict], start_ns: int) -> Table:
    """A migration's faults hit its mirror: when, and for how long (the restore's columns,
    stall and refetch, do not apply)."""
    table = Table(title="faults")
    for col in ("fault", "at", "took"):
        table.add_column(col, justify="left" if col == "fault" else "right")
    for f in faults:
        what = f"{f['action']} {f.get('target')}"
        table.add_row(what, f"{(f['started_ns'] - start_ns) / 1e9:.1f} s" if f["started_ns"]
                      else "never", f"{f['duration_ns'] / 1e9:.1f} s" if f["started_ns"] else "—")
    return table


def _migration_table(rows: list[dict], verdict: dict) -> Table:
    """Per step (cutover, rollback): what it lost, doubled, and cost, from the ledger."""
    table = Table(title=f"migration ({verdict['procedure']})",
                  caption="from the ledger of record ids written and read, not the mirror's "
                          "figures; translation: resumed - true offset, per partition")
    steps = [r for r in rows if r["partition"] == -1]
    table.add_column("")
    for step in steps:
        table.add_column(step["step"], justify="right")

    def row(label: str, cell) -> None:
        table.add_row(label, *[cell(st, [r for r in rows if r["step"] == st["step"]
                                         and r["partition"] >= 0]) for st in steps])
    row("lost", lambda st, _: _red_if(st["lost"]))
    row("delivered twice", lambda st, _: f"{st['duplicates']:,}")
    row("translation", lambda _, parts: _span([p["translation_error"] for p in parts]))
    row("mirror missing / doubled", lambda st, _: f"{st['mirror_missing'] or 0:,} / "
                                                  f"{st['mirror_duplicates'] or 0:,}")
    row("switch time", lambda st, _: _seconds(st["switch_ns"]))
    row("mirror drained in", lambda st, _: _seconds(st.get("mirror_drain_ns")))
    row("write unavailable", lambda st, _: _seconds(st["write_unavailable_ns"]))
    row("read unavailable", lambda st, _: _seconds(st["read_unavailable_ns"]))
    row("e2e p99 / p99.9 across", lambda st, _: f"{_ms(st['consumer_p99_ns'])} / "
                                                 f"{_ms(st['consumer_p99_9_ns'])}")
    row("e2e p99 before", lambda st, _: _ms(st["consumer_reference_p99_ns"]))
    return table


def _streams_move_table(rows: list[dict], verdict: dict) -> Table:
    """A Kafka Streams application's move (and its move back): its state against every write,
    and what each move cost it."""
    steps = [r for r in rows if r["partition"] == -1]
    table = Table(title=f"Kafka Streams application moved (changelog {verdict['changelog']}, "
                        f"local state {verdict['local_state']})",
                  caption="from its stores, key by key, against every acknowledged write "
                          "(a move back: its state on the target judged as it left); "
                          "translation: the synced offsets' error, summed (negative: input "
                          "processed again)")
    table.add_column("")
    for step in steps:
        table.add_column(step["step"], justify="right")
    down = {"cutover": verdict["downtime_ns"], "rollback": verdict.get("back_downtime_ns")}
    kept = verdict["kept_state"]
    for label, cell in (
            ("updates lost", lambda st: _red_if(st["lost"])),
            ("updates applied twice", lambda st: f"{st['duplicates']:,} "
                                                 f"(bound {verdict['max_duplicates']:,})"),
            ("translation", lambda st: "—" if st["translation_error"] is None
             else f"{st['translation_error']:+,}"),
            ("down (stopped -> useful there)", lambda st: _seconds(down.get(st["step"]))),
            ("copied, offsets synced in", lambda st: _seconds(st.get("mirror_drain_ns"))),
            ("write unavailable", lambda st: _seconds(st["write_unavailable_ns"])),
            ("switch time", lambda st: _seconds(st["switch_ns"]))):
        table.add_row(label, *[cell(st) for st in steps])
    for label, value in (
            ("input re-read / skipped, in all", f"{verdict['re_read']:,} / "
                                                f"{_red_if(verdict['skipped'])}"),
            ("restored at its last start", f"{verdict['restored_records']:,} records"),
            ("resumed from kept state / past the copy's end / elsewhere in it",
             f"{kept['partitions']} / {_red_if(kept['beyond_copy_end'])} / "
             f"{_red_if(kept['not_matching_copy'])}")):
        table.add_row(label, value, *[""] * (len(steps) - 1))
    return table


def _red_if(count: int | None) -> str:
    return "—" if count is None else f"[bold red]{count:,}[/]" if count else "0"


def _span(values: list) -> str:
    known = [v for v in values if v is not None]
    return "—" if not known else f"{min(known):+,} .. {max(known):+,}"


def _seconds(ns: int | None) -> str:
    return "—" if ns is None else f"{ns / 1e9:.1f} s"


def _ms(ns: int | None) -> str:
    return "—" if ns is None else f"{ns / 1e6:,.0f} ms"


_CLIENTS = {"native": "native (librdkafka's batches folded in C)",
            "confluent-kafka": "[bold red]confluent-kafka[/] (Message objects: the slower "
                               "fallback)",
            "kafka-streams": "Kafka Streams (its own restore consumer)"}


def _latency_table(s: Summary) -> Table:
    """Per phase, and the storm's ratio with its 95 % interval and verdict (reasons below)."""
    lat = Table(title="live latency (ms)")
    for col in ("latency", "baseline", "storm", "recovery", "storm / baseline", "verdict"):
        lat.add_column(col, justify="left" if col in ("latency", "verdict") else "right")
    notes = []
    for role, metric in (("producer", "produce ack−intended"), ("consumer", "end-to-end")):
        for p, key in (("p99", "p99_ns"), ("p99.9", "p99_9_ns")):
            cells = [s.live.get(f"{phase} {role}") for phase in ("baseline", "storm", "recovery")]
            if not any(cells):
                continue
            ratio = s.interference.get(f"{role} {key[:-3]}")
            judged = verdict_of(s, role, p)
            interval = f" [{judged.ci_low:.2f}–{judged.ci_high:.2f}]" \
                if judged and judged.ci_low is not None else ""
            verdict = judged.verdict if judged else "—"
            if judged and (judged.verdict == "inconclusive" or
                           judged.reason.startswith(SATURATED)):
                notes.append(f"{metric} {p}: {judged.reason}")
                verdict = f"{judged.verdict} ({len(notes)})"
            lat.add_row(f"{metric} {p}", *[f"{c[key] / 1e6:.1f}" if c else "—" for c in cells],
                        f"{ratio:.2f}×{interval}" if ratio else "—", verdict)
    if notes:
        lat.caption = "\n".join(f"({i}) {n}" for i, n in enumerate(notes, 1))
        lat.caption_justify = "left"
    return lat


def _fetched_back(fault: dict) -> int:
    """What a drilled broker had to fetch again: an S3-backed broker's start-up reads from the
    object store (it holds nothing locally), else the bytes back in its log dirs."""
    from_store = fault.get("startup_bytes_read")
    return fault["broker_bytes_after"] if from_store is None else from_store


def fault_cost_line(cost: dict) -> str:
    """What the faults cost the restore over the pairs run (verdicts/fault_cost.py)."""
    ratios = ", ".join(f"{r:.2f}×" for r in cost["ratios"]) or "none"
    return (f"the faults' cost over {cost['pairs']} pair(s) of runs (with / without, each "
            f"pair: {ratios}): {cost['verdict']}")


def _reference_caption(faults: list[dict]) -> str | None:
    with_faults, without = faults[0].get("restore_time_ns"), faults[0].get("reference_restore_time_ns")
    if not with_faults or not without:
        return None
    return (f"restore {with_faults / 1e9:.2f} s with the faults, {without / 1e9:.2f} s without "
            f"(reference run): {with_faults / without:.2f}×")


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"
