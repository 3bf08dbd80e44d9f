"""Dependency-free SVG charts, drawn on the server so the staff pages need no plotting library: the monitoring
page's predicted against actual charges, monthly MAE and coverage and daily volume by source
(``.chart-monitoring``), a model version's holdout with each prediction's interval, from its card
(``.chart-holdout``), and MAE and bias by group with their intervals (``.chart-fairness``). Their look is in static/css/staff.css: no style in the SVG, which the
Content-Security-Policy would block."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..ml import stats
from .figures import SOURCE_LABELS, Slice

SOURCES = tuple(SOURCE_LABELS)


def _nice_top(value: float) -> float:
    """A round upper bound for an axis: 1, 2 or 5 times a power of ten, at or above the value."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def scatter_svg(points: Sequence[tuple[float, float, float | None, float | None]]) -> SafeString | None:
    """Predicted (x) against actual (y) charges, blue inside the 90% interval and red outside; None without points."""
    if not points:
        return None
    width, height, left, bottom, top_margin, right = 560, 420, 70, 50, 20, 20
    top = _nice_top(max(max(p, a) for p, a, _, _ in points))
    plot_w, plot_h = width - left - right, height - top_margin - bottom

    def x(value: float) -> float:
        return round(left + max(value, 0) / top * plot_w, 1)

    def y(value: float) -> float:
        return round(top_margin + plot_h - max(value, 0) / top * plot_h, 1)

    ticks = [top * i / 5 for i in range(6)]
    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="end">${}k</text>'
        '<text x="{}" y="{}" class="tick" text-anchor="middle">${}k</text>',
        ((x(0), y(t), x(top), y(t), x(0) - 6, y(t) + 4, f"{t / 1000:g}", x(t), y(0) + 18, f"{t / 1000:g}") for t in ticks),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2.4" class="{}"/>',
        (
            (x(p), y(a), "outside" if lo is not None and not lo <= a <= hi else "inside")
            for p, a, lo, hi in reversed(points)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" class="chart chart-monitoring" '
        'aria-label="Predicted against actual charges">{grid}'
        '<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" class="diag"/>{dots}'
        '<text x="{cx}" y="{by}" class="label" text-anchor="middle">Predicted charges</text>'
        '<text x="14" y="{cy}" class="label" text-anchor="middle" transform="rotate(-90 14 {cy})">Actual charges</text></svg>',
        w=width, h=height, grid=grid, x0=x(0), y0=y(0), x1=x(top), y1=y(top), dots=dots,
        cx=left + plot_w / 2, by=height - 8, cy=top_margin + plot_h / 2,
    )


def monthly_svg(months: Sequence[Slice]) -> SafeString | None:
    """Two panels by month: the MAE in dollars, and the 90% interval's coverage with its Wilson band."""
    if not months:
        return None
    width, panel_h, left, right, gap = 640, 150, 70, 20, 40
    height = 2 * panel_h + gap + 60
    count = len(months)
    plot_w = width - left - right

    def x(index: int) -> float:
        return round(left + (index + 0.5) / count * plot_w, 1)

    mae_top = _nice_top(max(part.accuracy.mae for part in months))

    def y_mae(value: float) -> float:
        return round(20 + panel_h - value / mae_top * panel_h, 1)

    cov_low, cov_high = 0.5, 1.0

    def y_cov(value: float) -> float:
        clipped = min(max(value, cov_low), cov_high)
        return round(20 + panel_h + gap + panel_h - (clipped - cov_low) / (cov_high - cov_low) * panel_h, 1)

    mae_line = " ".join(f"{x(i)},{y_mae(part.accuracy.mae)}" for i, part in enumerate(months))
    covered = [(i, part.accuracy.coverage) for i, part in enumerate(months) if part.accuracy.coverage]
    cov_line = " ".join(f"{x(i)},{y_cov(c.value)}" for i, c in covered)
    band = " ".join(
        [f"{x(i)},{y_cov(c.high)}" for i, c in covered] + [f"{x(i)},{y_cov(c.low)}" for i, c in reversed(covered)]
    )
    labels_every = max(1, math.ceil(count / 12))
    month_labels = format_html_join(
        "",
        '<text x="{}" y="{}" class="tick" text-anchor="middle">{}</text>',
        ((x(i), height - 22, part.key) for i, part in enumerate(months) if i % labels_every == 0),
    )
    mae_ticks = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="end">${}</text>',
        ((left, y_mae(t), width - right, y_mae(t), left - 6, y_mae(t) + 4, f"{t:,.0f}") for t in (mae_top * i / 4 for i in range(5))),
    )
    cov_ticks = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="end">{}%</text>',
        ((left, y_cov(t), width - right, y_cov(t), left - 6, y_cov(t) + 4, f"{t * 100:.0f}") for t in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" class="{}"><title>{}: {}</title></circle>',
        [(x(i), y_mae(part.accuracy.mae), "mae-dot", part.key, f"MAE ${part.accuracy.mae:,.0f}") for i, part in enumerate(months)]
        + [(x(i), y_cov(c.value), "cov-dot", months[i].key, f"coverage {c.value:.1%}") for i, c in covered],
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" class="chart chart-monitoring" '
        'aria-label="Monthly MAE and 90% interval coverage">{mae_ticks}{cov_ticks}'
        '<text x="{left}" y="14" class="label">MAE by month</text>'
        '<polyline points="{mae_line}" class="mae"/>'
        '<text x="{left}" y="{cov_title}" class="label">90% interval coverage by month (band: Wilson 95% CI; '
        'dashed: 90% target and the {floor}% alert line)</text>'
        '<polygon points="{band}" class="band"/><polyline points="{cov_line}" class="cov"/>'
        '<line x1="{left}" y1="{y90}" x2="{right}" y2="{y90}" class="target"/>'
        '<line x1="{left}" y1="{y87}" x2="{right}" y2="{y87}" class="floor"/>{dots}{month_labels}</svg>',
        w=width, h=height, mae_ticks=mae_ticks, cov_ticks=cov_ticks, left=left, mae_line=mae_line,
        cov_title=20 + panel_h + gap - 6, band=band, cov_line=cov_line, y90=y_cov(0.9), y87=y_cov(stats.COVERAGE_FLOOR),
        right=width - right, floor=f"{stats.COVERAGE_FLOOR * 100:.0f}", month_labels=month_labels, dots=dots,
    )


def volume_svg(volume: Sequence[tuple[date, str, int]]) -> SafeString | None:
    """Predictions per day, stacked by source (web, API, batch, shell)."""
    if not volume:
        return None
    by_day: dict[date, dict[str, int]] = defaultdict(dict)
    for day, source, count in volume:
        by_day[day][source] = count
    first, last = min(by_day), max(by_day)
    days = (last - first).days + 1
    width, height, left, right, top_margin, bottom = 640, 220, 70, 20, 30, 40
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    top = _nice_top(max(sum(counts.values()) for counts in by_day.values()))
    bar_w = plot_w / days

    def y(value: float) -> float:
        return round(top_margin + plot_h - value / top * plot_h, 2)

    bars = []
    for day, counts in sorted(by_day.items()):
        x = round(left + (day - first).days * bar_w, 2)
        base = 0
        for source in SOURCES:
            count = counts.get(source, 0)
            if count:
                bars.append((x, y(base + count), max(round(bar_w, 2), 0.5), round(count / top * plot_h, 2), source, day, SOURCE_LABELS[source], count))
                base += count
    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}: {} {}</title></rect>',
        bars,
    )
    ticks = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="end">{}</text>',
        ((left, y(t), width - right, y(t), left - 6, y(t) + 4, f"{t:,.0f}") for t in (top * i / 4 for i in range(5))),
    )
    legend = format_html_join(
        "",
        '<rect x="{}" y="8" width="10" height="10" class="{}"/><text x="{}" y="17" class="tick">{}</text>',
        ((left + i * 110, source, left + i * 110 + 14, SOURCE_LABELS[source]) for i, source in enumerate(SOURCES)),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" class="chart chart-monitoring" '
        'aria-label="Predictions per day by source">{ticks}{rects}{legend}'
        '<text x="{left}" y="{ty}" class="tick">{first}</text><text x="{right}" y="{ty}" class="tick" text-anchor="end">{last}</text></svg>',
        w=width, h=height, ticks=ticks, rects=rects, legend=legend, left=left, right=width - right,
        ty=height - 20, first=first.isoformat(), last=last.isoformat(),
    )


# ---------------------------------------------------------------------------
# A model version's holdout, from its card

HOLDOUT_WIDTH, HOLDOUT_HEIGHT = 640, 480
HOLDOUT_MARGIN = {"left": 70, "right": 20, "top": 20, "bottom": 50}
HOLDOUT_TICK_STEP = 10_000


def holdout_svg(card: Mapping[str, Any]) -> SafeString | None:
    """An SVG scatter of the holdout (x: predicted, y: actual) with interval bars, or None without data."""
    plot = card.get("holdout_plot")
    if not plot or not plot.get("actual"):
        return None
    actual, predicted = plot["actual"], plot["predicted"]
    low, high = plot.get("low") or predicted, plot.get("high") or predicted
    top = max(max(actual), max(high), max(predicted))
    top = (int(top // HOLDOUT_TICK_STEP) + 1) * HOLDOUT_TICK_STEP
    plot_width = HOLDOUT_WIDTH - HOLDOUT_MARGIN["left"] - HOLDOUT_MARGIN["right"]
    plot_height = HOLDOUT_HEIGHT - HOLDOUT_MARGIN["top"] - HOLDOUT_MARGIN["bottom"]

    def x(value: float) -> float:
        return round(HOLDOUT_MARGIN["left"] + max(value, 0) / top * plot_width, 1)

    def y(value: float) -> float:
        return round(HOLDOUT_MARGIN["top"] + plot_height - max(value, 0) / top * plot_height, 1)

    ticks = range(0, top + 1, HOLDOUT_TICK_STEP)
    grid = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="end">${}k</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="middle">${}k</text>',
        (
            (
                x(0), y(t), x(top), y(t), x(0) - 6, y(t) + 4, t // 1000,
                x(t), y(0), x(t), y(top), x(t), y(0) + 18, t // 1000,
            )
            for t in ticks
        ),
    )
    bars = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="band"/>',
        ((x(p), y(lo), x(p), y(hi)) for p, lo, hi in zip(predicted, low, high)),
    )
    points = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="2.6" class="{}"/>',
        (
            (x(p), y(a), "inside" if lo <= a <= hi else "outside")
            for p, a, lo, hi in zip(predicted, actual, low, high)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'class="chart chart-holdout" aria-label="Holdout: predicted against actual charges with 90% intervals">{}{}'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="diag"/>{}'
        '<text x="{}" y="{}" class="label" text-anchor="middle">Predicted charges</text>'
        '<text x="14" y="{}" class="label" text-anchor="middle" transform="rotate(-90 14 {})">Actual charges</text></svg>',
        HOLDOUT_WIDTH, HOLDOUT_HEIGHT, HOLDOUT_WIDTH, HOLDOUT_HEIGHT, grid, bars,
        x(0), y(0), x(top), y(top), points,
        HOLDOUT_MARGIN["left"] + plot_width / 2, HOLDOUT_HEIGHT - 8,
        HOLDOUT_MARGIN["top"] + plot_height / 2, HOLDOUT_MARGIN["top"] + plot_height / 2,
    )


def fairness_svg(groups: Sequence[Mapping[str, Any]]) -> SafeString | None:
    """MAE and bias by group, side by side: a dot at each figure and a bar over its 95% interval (a hollow dot:
    a group under MIN_ROWS rows, without an interval); the bias panel marks zero. None without groups."""
    rows = [row for row in groups if row["mae"]["value"] is not None]
    if not rows:
        return None
    row_h, top_margin, label_w, panel_w, gap = 20, 30, 190, 260, 40
    height = top_margin + row_h * len(rows) + 30
    width = label_w + 2 * panel_w + gap + 20

    def ends(metric: str) -> tuple[float, float]:
        values = [v for row in rows for v in (row[metric]["value"], row[metric]["low"], row[metric]["high"]) if v is not None]
        low, high = min(0.0, *values), max(0.0, *values)
        return (low, high) if high > low else (low, low + 1.0)

    panels = []
    for index, (metric, title) in enumerate((("mae", "MAE"), ("bias", "bias (actual − predicted)"))):
        left = label_w + index * (panel_w + gap)
        low, high = ends(metric)

        def x(value: float, left=left, low=low, high=high) -> float:
            return round(left + (value - low) / (high - low) * panel_w, 1)

        marks = format_html_join("", '{}<circle cx="{}" cy="{}" r="3.5" class="{}"/>', (
            (
                format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" class="whisker"/>', x(row[metric]["low"]),
                            top_margin + row_h * i + 10, x(row[metric]["high"]), top_margin + row_h * i + 10)
                if row[metric]["low"] is not None else "",
                x(row[metric]["value"]), top_margin + row_h * i + 10,
                "dot" if row[metric]["low"] is not None else "dot few",
            )
            for i, row in enumerate(rows)
        ))
        panels.append(format_html(
            '<text x="{}" y="18" class="label" text-anchor="middle">{}</text>'
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="zero"/>{}'
            '<text x="{}" y="{}" class="tick" text-anchor="start">${}</text><text x="{}" y="{}" class="tick" text-anchor="end">${}</text>',
            left + panel_w / 2, title, x(0), top_margin, x(0), height - 30, marks,
            left, height - 12, f"{low:,.0f}", left + panel_w, height - 12, f"{high:,.0f}",
        ))
    labels = format_html_join("", '<text x="{}" y="{}" class="tick" text-anchor="end">{}: {} (n={})</text>', (
        (label_w - 10, top_margin + row_h * i + 14, row["dimension"].replace("_", " "), row["group"], f"{row['n']:,}")
        for i, row in enumerate(rows)
    ))
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'class="chart chart-fairness" aria-label="MAE and bias by group with 95% intervals">{labels}{panels}</svg>',
        w=width, h=height, labels=labels, panels=format_html_join("", "{}", ((panel,) for panel in panels)),
    )
