"""`replaybench report`: one self-contained HTML file with SVG charts for one or more runs side
by side: restore throughput over time with phase bands and fault markers, live produce tail
latency over time, the HDR percentile spectrum per phase, per-partition restore durations; with
--monitor, the platform's own series on the same time axis."""

from __future__ import annotations

import html
import json
from pathlib import Path

from replaybench.analysis import charts
from replaybench.results import store, stored_record
from replaybench.results.runs import Run
from replaybench.verdicts import observability

SPECTRUM = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)
FAULT_KINDS = ("fault", "fault_start", "error", "storm_timeout")
GAP_S = 3.0   #: the platform's series: one point a second; more apart is a scrape not answered

# Runs in the browser after layout and records each chart's drawn extent, so a headless browser
# (the test) can tell that the charts were really rendered.
_CHECK = """<script>
window.addEventListener('load', () => {
  document.querySelectorAll('svg.chart').forEach(c => {
    let w = 0, h = 0;
    c.querySelectorAll('.data').forEach(e => { const b = e.getBBox(); w += b.width; h += b.height; });
    c.setAttribute('data-drawn', Math.round(w) + 'x' + Math.round(h));
  });
  document.body.setAttribute('data-charts', document.querySelectorAll('svg.chart').length);
});
</script>"""

def render(runs: list[Run], cards: list | None = None) -> str:
    """cards: the scorecard of the runs' platforms (scorecard.Card list), shown first."""
    sections = "".join(_section(run) for run in runs)
    card_html = f"<h2>scorecard</h2>{scorecard_html(cards)}" if cards else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>replaybench report</title>"
            f"<style>{_STYLE} .runs{{display:flex;gap:24px;flex-wrap:wrap}} "
            f".run{{flex:1 1 660px}}</style></head><body><h1>replaybench report</h1>"
            f"{card_html}{_overview(runs)}"
            f"<div class='runs'>{sections}</div>{_CHECK}</body></html>")

def write(runs: list[Run], out: Path, cards: list | None = None) -> Path:
    return _write(render(runs, cards), out)


def write_scorecard(cards: list, out: Path) -> Path:
    """The scorecard alone as an HTML page (scorecard.Card list)."""
    return _write(f"<!doctype html><html><head><meta charset='utf-8'><title>replaybench "
                  f"scorecard</title><style>{_STYLE}</style></head><body><h1>replaybench "
                  f"scorecard</h1>{scorecard_html(cards)}</body></html>", out)


def scorecard_html(cards: list) -> str:
    """One table per platform: category, status, evidence, rule."""
    out = []
    for card in cards:
        rows = "".join(
            f"<tr class='{v.status.replace(' ', '-')}'><td>{html.escape(v.category)}</td>"
            f"<td><b>{html.escape(v.status)}</b></td>"
            f"<td style='text-align:left'>{'<br>'.join(html.escape(e) for e in v.evidence)}</td>"
            f"<td style='text-align:left;color:#666'>{html.escape(v.rule)}</td></tr>"
            for v in card.grades)
        verdict = "NO-GO (a blocker)" if card.blocked else "no blocker"
        out.append(f"<h2>{html.escape(card.platform)}: {verdict}</h2><table class='scorecard'>"
                   f"<tr><th>category</th><th>status</th><th>evidence</th><th>rule</th></tr>"
                   f"{rows}</table>")
    return "".join(out)


def _write(text: str, out: Path) -> Path:
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(text)
    tmp.replace(out)
    return out


_STYLE = ("body{font-family:sans-serif;margin:16px} table{border-collapse:collapse} "
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right} th{background:#f4f4f4} "
          ".pass td:nth-child(2){background:#d9f2d9} .partial td:nth-child(2){background:#fff3c4} "
          ".blocker td:nth-child(2){background:#f8c9c9}")

def _overview(runs: list[Run]) -> str:
    rows = []
    for run in runs:
        s = run.manifest.get("summary", {})
        g = s.get("groups") or [{}]
        base = s.get("live", {}).get("baseline producer", {})
        storm = s.get("live", {}).get("storm producer", {})
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
            run.manifest.get("run_id", run.path.name), run.manifest.get("status", "?"),
            f"{g[0].get('restore_time_s', 0):.2f} s", f"{g[0].get('mb_per_s', 0):.1f}",
            _ms(base.get("p99_ns")), _ms(storm.get("p99_ns")), _ms(storm.get("p99_9_ns")))) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("run", "status", "restore time", "restore MB/s",
                                             "baseline p99 ms", "storm p99 ms", "storm p99.9 ms"))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"

def _section(run: Run) -> str:
    ts = store.read_table(run.path, "timeseries").to_pylist()
    events = store.read_table(run.path, "events").to_pylist()
    parts = store.read_table(run.path, "restore_partitions").to_pylist()
    bands = _bands(events)
    markers = [(e["elapsed_ns"] / 1e9, e["kind"]) for e in events if e["kind"] in FAULT_KINDS]
    readers = [r for r in ts if r["role"] == "reader"]
    producers = [r for r in ts if r["role"] == "producer"]
    t = [r["elapsed_ns"] / 1e9 for r in readers]
    drawn = [
        charts.line_chart("restore throughput", [
            ("MB/s", t, [r["bytes_per_s"] / 1e6 for r in readers]),
            ("k records/s", t, [r["records_per_s"] / 1e3 for r in readers])],
            "MB/s · k records/s", bands=bands, markers=markers),
        charts.line_chart("live produce latency (ack − intended)", [
            (f"p{p}", [r["elapsed_ns"] / 1e9 for r in producers], [r[col] / 1e6 for r in producers])
            for p, col in (("99", "p99_ns"), ("99.9", "p99_9_ns"), ("50", "p50_ns"))],
            "ms", bands=bands, markers=markers),
        _spectrum(run),
        charts.bar_chart("restore duration per partition", [f"g{p['group']}p{p['partition']}" for p in parts],
                      [p["duration_ns"] / 1e9 for p in parts], "seconds"),
    ]
    drawn += _platform(run, ts, bands, markers)
    title = html.escape(run.manifest.get("run_id", run.path.name))
    return f"<div class='run'><h2>{title}</h2>{''.join(drawn)}{_placement(run)}</div>"


def _platform(run: Run, ts: list[dict], bands: list, markers: list) -> list[str]:
    """--monitor: what the platform's own monitoring showed, on the run's time axis: bytes out
    per server, under-replicated partitions and brokers down with each alert marked where it
    began firing, and the consumers' lag as the lag exporter showed it beside the true lag."""
    rows = stored_record.rows(run.path, "platform_metrics")
    if not rows:
        return []
    by = _by_metric(rows)
    out = by.get("bytes_out_per_s") or by.get("s3_bytes_sent_per_s") or {}
    drawn = [charts.line_chart("the platform's bytes out (Prometheus)", [
        (server, [x for x, _ in pts], [v / 1e6 for _, v in pts])
        for server, pts in sorted(out.items())], "MB/s", bands=bands, markers=markers,
        gap_x=GAP_S)] if out else []
    urp = _summed(by.get("under_replicated_partitions", {}).values())
    down = _summed([[(x, float(v == 0)) for x, v in pts]
                    for server, pts in by.get("up", {}).items() if "broker" in server])
    alerts = _alert_markers(rows, run.started_ns)
    if urp or down:
        drawn.append(charts.line_chart("under-replicated partitions and brokers down", [
            ("under-replicated", *_xy(urp)), ("brokers down", *_xy(down))], "count",
            bands=bands, markers=markers + alerts, gap_x=GAP_S))
    exporter = _summed([pts for group, pts in by.get("consumer_group_lag", {}).items()
                        if group.startswith(observability.TAIL_GROUP)])
    truth = [(r["elapsed_ns"] / 1e9, float(r["lag_records"] or 0)) for r in ts
             if r["role"] == "consumer"]
    if exporter:
        drawn.append(charts.line_chart("live consumers' lag: the exporter's and the true", [
            ("exporter (committed)", *_xy(exporter)), ("true (position taken)", *_xy(truth))],
            "records", bands=bands, markers=markers, gap_x=GAP_S))
    return drawn


def _by_metric(rows: list[dict]) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """metric -> series name (the server; a lag: its consumer group) -> (seconds, value)."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for r in rows:
        name = json.loads(r["labels"] or "{}").get("consumergroup") or r["server"]
        out.setdefault(r["metric"], {}).setdefault(name, []).append(
            (r["elapsed_ns"] / 1e9, r["value"]))
    return out


def _summed(series) -> list[tuple[float, float]]:
    total: dict[float, float] = {}
    for pts in series:
        for x, v in pts:
            total[x] = total.get(x, 0.0) + v
    return sorted(total.items())


def _alert_markers(rows: list[dict], started_ns: int) -> list[tuple[float, str]]:
    """Each alert that fired, where it first did (seconds since the run started), on any
    server."""
    first: dict[str, int] = {}
    for (name, _server), t in observability.first_fired(rows).items():
        first[name] = min(first.get(name, t), t)
    return [((t - started_ns) / 1e9, name) for name, t in first.items()]


def _xy(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    return [x for x, _ in points], [v for _, v in points]


def _placement(run: Run) -> str:
    """Where the actors ran: the placement policy, and per Ray node its labels and actors."""
    plan = run.manifest.get("placement_plan") or {}
    if not plan.get("nodes"):
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(n['address'])}{' (head)' if n.get('head') else ''}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in n['labels'].items()))}</td>"
        f"<td style='text-align:left'>{html.escape(', '.join(n['actors']))}</td></tr>"
        for n in plan["nodes"])
    return (f"<h3>placement: {html.escape(plan['policy'])}</h3><table><tr><th>Ray node</th>"
            f"<th>labels</th><th>actors</th></tr>{rows}</table>")

def _spectrum(run: Run) -> str:
    series = []
    for phase in ("baseline", "storm", "recovery"):
        hist = run.histogram(phase, "producer", "ack_intended")
        if hist.count:
            xs = [1 / (1 - p / 100) for p in SPECTRUM]
            series.append((phase, xs, [v / 1e6 for v in hist.percentiles(SPECTRUM)]))
    ticks = [(1 / (1 - p / 100), f"{p:g}%") for p in SPECTRUM]
    if not series:
        series = [("no live traffic", [2.0], [0.0])]
    return charts.line_chart("produce latency percentile spectrum (HDR)", series, "ms",
                          x_label="percentile", log_x=True, x_ticks=ticks)

def _bands(events: list[dict]) -> list[tuple[float, float, str]]:
    starts = [(e["elapsed_ns"] / 1e9, e["phase"]) for e in events if e["kind"] == "phase_start"]
    ends = {e["phase"]: e["elapsed_ns"] / 1e9 for e in events if e["kind"] == "phase_end"}
    return [(t, ends.get(name, t), name) for t, name in starts if name in charts.PHASE_COLORS]

def _ms(ns) -> str:
    return f"{ns / 1e6:.1f}" if ns else "—"

