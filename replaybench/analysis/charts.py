"""Minimal SVG charts (lines over time with phase bands, bars), inline in one HTML file so the
report needs no network and no JavaScript library."""

from __future__ import annotations

import html
import math

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 260, 60, 20, 24, 40
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
PHASE_COLORS = {"seed": "#eeeeee", "warmup": "#f6f6f6", "baseline": "#e8f1fa", "storm": "#fde8e8",
                "recovery": "#eaf6ea", "drain": "#f4f4f4"}


def line_chart(title: str, series: list[tuple[str, list[float], list[float]]], y_label: str,
               x_label: str = "seconds since start", bands: list[tuple[float, float, str]] = (),
               markers: list[tuple[float, str]] = (), log_x: bool = False,
               x_ticks: list[tuple[float, str]] | None = None,
               gap_x: float | None = None) -> str:
    """gap_x: a series is not drawn across two points further apart than this (a scrape that
    was not answered is a gap, not a straight line)."""
    xs = [x for _, sx, _ in series for x in sx] or [0, 1]
    ys = [y for _, _, sy in series for y in sy] or [0, 1]
    fx = (lambda v: math.log10(v)) if log_x else (lambda v: v)
    x0, x1 = min(map(fx, xs)), max(map(fx, xs))
    for a, b, _ in bands:
        x0, x1 = min(x0, a), max(x1, b)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = max(ys) * 1.1 or 1.0

    def px(v: float) -> float:
        return PAD_L + (fx(v) - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def py(v: float) -> float:
        return H - PAD_B - v / y1 * (H - PAD_T - PAD_B)

    parts = [_open(title)]
    for a, b, name in bands:
        xa, xb = PAD_L + (a - x0) / (x1 - x0) * (W - PAD_L - PAD_R), \
            PAD_L + (b - x0) / (x1 - x0) * (W - PAD_L - PAD_R)
        parts.append(f'<rect x="{xa:.1f}" y="{PAD_T}" width="{max(xb - xa, 0.5):.1f}" '
                     f'height="{H - PAD_T - PAD_B}" fill="{PHASE_COLORS.get(name, "#f0f0f0")}"/>'
                     f'<text x="{xa + 3:.1f}" y="{PAD_T + 12}" font-size="10" fill="#666">'
                     f'{html.escape(name)}</text>')
    parts.append(_axes(y1, y_label, x_label))
    for x, label in markers:
        xm = px(x)
        parts.append(f'<line x1="{xm:.1f}" x2="{xm:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" '
                     f'stroke="#000" stroke-dasharray="4 3"/><text x="{xm + 2:.1f}" '
                     f'y="{H - PAD_B - 4}" font-size="10">{html.escape(label)}</text>')
    for i, (name, sx, sy) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        for run in _runs(list(zip(sx, sy)), gap_x):
            pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            parts.append(f'<polyline class="data" fill="none" stroke="{color}" '
                         f'stroke-width="1.8" points="{pts}"/>')
        parts.append(f'<text x="{PAD_L + 8 + 150 * i}" y="{H - 6}" font-size="11" '
                     f'fill="{color}">■ {html.escape(name)}</text>')
    for x, label in x_ticks or _ticks(x0, x1, log_x):
        parts.append(f'<text x="{px(x):.1f}" y="{H - PAD_B + 14}" font-size="10" '
                     f'text-anchor="middle">{html.escape(label)}</text>')
    return "".join(parts) + "</svg>"


def bar_chart(title: str, labels: list[str], values: list[float], y_label: str) -> str:
    y1 = max(values or [1]) * 1.1 or 1.0
    n = max(len(values), 1)
    slot = (W - PAD_L - PAD_R) / n
    parts = [_open(title), _axes(y1, y_label, "")]
    for i, (label, v) in enumerate(zip(labels, values)):
        h = v / y1 * (H - PAD_T - PAD_B)
        x = PAD_L + i * slot + slot * 0.15
        parts.append(f'<rect class="data" x="{x:.1f}" y="{H - PAD_B - h:.1f}" '
                     f'width="{slot * 0.7:.1f}" height="{max(h, 0.5):.1f}" fill="{COLORS[0]}"/>'
                     f'<text x="{x + slot * 0.35:.1f}" y="{H - PAD_B + 14}" font-size="9" '
                     f'text-anchor="middle">{html.escape(label)}</text>')
    return "".join(parts) + "</svg>"


def _runs(points: list[tuple[float, float]], gap_x: float | None) -> list[list]:
    """The points split where two neighbours are further apart than gap_x."""
    runs: list[list] = [[]]
    for point in points:
        if gap_x is not None and runs[-1] and point[0] - runs[-1][-1][0] > gap_x:
            runs.append([])
        runs[-1].append(point)
    return runs


def _open(title: str) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
            f'viewBox="0 0 {W} {H}" role="img" aria-label="{html.escape(title)}">'
            f'<text x="{PAD_L}" y="15" font-size="13" font-weight="bold">{html.escape(title)}</text>')


def _axes(y1: float, y_label: str, x_label: str) -> str:
    out = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#333"/>',
           f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#333"/>',
           f'<text x="12" y="{(H - PAD_B + PAD_T) / 2}" font-size="11" transform="rotate(-90 12 '
           f'{(H - PAD_B + PAD_T) / 2})" text-anchor="middle">{html.escape(y_label)}</text>',
           f'<text x="{W - PAD_R}" y="{H - PAD_B + 28}" font-size="10" text-anchor="end">'
           f'{html.escape(x_label)}</text>']
    for frac in (0, 0.25, 0.5, 0.75, 1.0):
        v = y1 / 1.1 * frac
        y = H - PAD_B - v / y1 * (H - PAD_T - PAD_B)
        out.append(f'<text x="{PAD_L - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end">'
                   f'{v:,.3g}</text><line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" '
                   f'y2="{y:.1f}" stroke="#ddd"/>')
    return "".join(out)


def _ticks(x0: float, x1: float, log_x: bool) -> list[tuple[float, str]]:
    if log_x:
        return [(10 ** e, f"1e{e}") for e in range(math.ceil(x0), math.floor(x1) + 1)]
    step = 10 ** math.floor(math.log10(max(x1 - x0, 1e-9))) or 1
    start = math.ceil(x0 / step) * step
    return [(start + i * step, f"{start + i * step:g}") for i in range(int((x1 - start) / step) + 1)]
