"""A dependency-free SVG chart of a model's holdout: predicted against actual charges, with each
prediction's interval. Built from the model card, so the staff page needs no plotting library. Its look is in
static/css/staff.css (``.chart-holdout``): no style in the SVG, which the Content-Security-Policy would block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 640, 480
MARGIN = {"left": 70, "right": 20, "top": 20, "bottom": 50}
TICK_STEP = 10_000


def holdout_svg(card: Mapping[str, Any]) -> SafeString | None:
    """An SVG scatter of the holdout (x: predicted, y: actual) with interval bars, or None without data."""
    plot = card.get("holdout_plot")
    if not plot or not plot.get("actual"):
        return None
    actual, predicted = plot["actual"], plot["predicted"]
    low, high = plot.get("low") or predicted, plot.get("high") or predicted
    top = max(max(actual), max(high), max(predicted))
    top = (int(top // TICK_STEP) + 1) * TICK_STEP
    plot_width = WIDTH - MARGIN["left"] - MARGIN["right"]
    plot_height = HEIGHT - MARGIN["top"] - MARGIN["bottom"]

    def x(value: float) -> float:
        return round(MARGIN["left"] + max(value, 0) / top * plot_width, 1)

    def y(value: float) -> float:
        return round(MARGIN["top"] + plot_height - max(value, 0) / top * plot_height, 1)

    ticks = range(0, top + 1, TICK_STEP)
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
        WIDTH, HEIGHT, WIDTH, HEIGHT, grid, bars,
        x(0), y(0), x(top), y(top), points,
        MARGIN["left"] + plot_width / 2, HEIGHT - 8,
        MARGIN["top"] + plot_height / 2, MARGIN["top"] + plot_height / 2,
    )
