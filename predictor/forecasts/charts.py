"""A dependency-free SVG chart of a forecast's total: a histogram of its seeded draws, the 50/80/90% ranges
shaded, the expected and median totals, and the naive sum of the patients' intervals beneath for comparison.
Built on the server from the forecast's figures, like ``charts.py``, so the page needs no script; its look is
in static/css/staff.css (``.chart-forecast``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 340
MARGIN = {"left": 20, "right": 20, "top": 20, "bottom": 110}
RANGE_SHADES = {"90": "r90", "80": "r80", "50": "r50"}


def money(value: float) -> str:
    """Dollars in a few characters: $1.23B, $45.6M, $789k, $950."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = value / limit
            return f"${scaled:,.{2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0}f}{suffix}"
    return f"${value:,.0f}"


def total_svg(figures: Mapping[str, Any]) -> SafeString:
    """The chart of ``forecasts.forecast_as_dict``'s figures."""
    histogram = figures["simulation"]["histogram"]
    edges, counts = histogram["edges"], histogram["counts"]
    ranges = figures["ranges"]
    low = min(edges[0], ranges["90"][0])
    high = max(edges[-1], ranges["90"][1])
    pad = (high - low) * 0.05 or 1.0
    low, high = low - pad, high + pad
    plot_width = WIDTH - MARGIN["left"] - MARGIN["right"]
    plot_height = HEIGHT - MARGIN["top"] - MARGIN["bottom"]
    base = MARGIN["top"] + plot_height
    tallest = max(counts) or 1

    def x(value: float) -> float:
        return round(MARGIN["left"] + (min(max(value, low), high) - low) / (high - low) * plot_width, 1)

    def y(count: float) -> float:
        return round(base - count / tallest * plot_height, 1)

    shades = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{}% range: {} to {}</title></rect>',
        (
            (x(ranges[level][0]), MARGIN["top"], round(x(ranges[level][1]) - x(ranges[level][0]), 1), plot_height,
             shade, level, money(ranges[level][0]), money(ranges[level][1]))
            for level, shade in RANGE_SHADES.items()
        ),
    )
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="bar"/>',
        (
            (x(left), y(count), max(round(x(right) - x(left) - 0.6, 1), 0.5), round(base - y(count), 1))
            for left, right, count in zip(edges[:-1], edges[1:], counts)
            if count
        ),
    )
    ticks = [low + (high - low) * i / 4 for i in range(5)]
    axis = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="tick"/><text x="{}" y="{}" class="label" text-anchor="middle">{}</text>',
        ((x(t), base, x(t), base + 5, x(t), base + 18, money(t)) for t in ticks),
    )
    markers = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="expected"/><line x1="{}" y1="{}" x2="{}" y2="{}" class="median"/>',
        x(figures["expected_total"]), MARGIN["top"], x(figures["expected_total"]), base,
        x(figures["median_total"]), MARGIN["top"], x(figures["median_total"]), base,
    )
    naive_low, naive_high = figures["naive_interval_sum"]
    naive_y = base + 48
    naive = format_html(
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="naive"/>'
        '<text x="{}" y="{}" class="label" text-anchor="middle">Naive sum of the patients\' 90% intervals: {} to {}{}</text>',
        x(naive_low), naive_y, x(naive_high), naive_y,
        MARGIN["left"] + plot_width / 2, naive_y + 18, money(naive_low), money(naive_high),
        " (beyond this chart)" if naive_low < low or naive_high > high else "",
    )
    legend = format_html(
        '<text x="{}" y="{}" class="label">Shaded: 90%, 80% and 50% ranges of the total. Bars: {} seeded draws. '
        'Solid line: expected total; dashed: median.</text>',
        MARGIN["left"], HEIGHT - 12, f"{figures['simulation']['draws']:,}",
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" class="chart chart-forecast" '
        'aria-label="Distribution of the total charges: {} seeded draws, with the 50%, 80% and 90% ranges">'
        '{}{}{}<line x1="{}" y1="{}" x2="{}" y2="{}" class="tick"/>{}{}{}</svg>',
        WIDTH, HEIGHT, WIDTH, HEIGHT, f"{figures['simulation']['draws']:,}", shades, bars, markers,
        MARGIN["left"], base, MARGIN["left"] + plot_width, base, axis, naive, legend,
    )
