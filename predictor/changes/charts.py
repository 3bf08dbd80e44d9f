"""Dependency-free SVG charts of the "Champion and challenger" page, drawn as the monitoring page's are
(``predictor.monitoring.charts``; their look is in static/css/staff.css, no style in the SVG): the paired
differences d = |actual − challenger| − |actual − champion| as a histogram with the mean's interval, $0
and the margin, and each segment's Holm-adjusted interval against the same lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

BINS = 40
# The histogram spans these percentiles of d; the rows beyond fall into the end bins.
SPAN_PERCENTILES = (1, 99)


def _money(value: float) -> str:
    return f"{'-' if value < 0 else ''}${abs(value):,.0f}"


def differences_svg(d: np.ndarray, difference: Mapping[str, Any], margin: float) -> SafeString | None:
    """A histogram of the paired differences (the end bins hold the 2% of rows beyond), the mean with its 95%
    interval, $0 and the margin; None without rows."""
    if not len(d):
        return None
    width, height, left, right, top_margin, bottom = 640, 260, 60, 20, 30, 50
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    first, last = np.percentile(d, SPAN_PERCENTILES)
    first, last = min(first, 0.0, difference["low"] or 0.0), max(last, margin, difference["high"] or 0.0)
    if last - first < 1:
        first, last = first - 1, last + 1
    counts, edges = np.histogram(np.clip(d, first, last), bins=BINS, range=(first, last))
    top = max(int(counts.max()), 1)

    def x(value: float) -> float:
        return round(left + (min(max(value, first), last) - first) / (last - first) * plot_w, 1)

    def y(count: float) -> float:
        return round(top_margin + plot_h - count / top * plot_h, 1)

    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"><title>{} to {}: {} rows</title></rect>',
        (
            (x(lo), y(count), max(round(x(hi) - x(lo) - 1, 1), 0.5), round(count / top * plot_h, 1),
             "better" if hi <= 0 else "worse", _money(lo), _money(hi), int(count))
            for lo, hi, count in zip(edges[:-1], edges[1:], counts)
            if count
        ),
    )
    ticks = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" text-anchor="middle">{}</text>',
        ((x(t), top_margin, x(t), top_margin + plot_h, x(t), height - bottom + 16, _money(t))
         for t in np.linspace(first, last, 6)),
    )
    low, high, mean = difference["low"], difference["high"], difference["mean"]
    interval = format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" class="band"><title>95% interval of the mean: {} to {}</title></rect>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="mean"/>',
        x(low), top_margin, max(x(high) - x(low), 1), plot_h, _money(low), _money(high),
        x(mean), top_margin, x(mean), top_margin + plot_h,
    ) if low is not None else ""
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'class="chart chart-comparison" aria-label="Paired differences of absolute errors">{ticks}{interval}{bars}'
        '<line x1="{x0}" y1="{t}" x2="{x0}" y2="{b}" class="zero"/><line x1="{xm}" y1="{t}" x2="{xm}" y2="{b}" class="margin"/>'
        '<text x="{x0l}" y="{label_y}" class="tick" text-anchor="end">$0</text>'
        '<text x="{xmr}" y="{label_y}" class="tick" text-anchor="start">margin</text>'
        '<text x="{cx}" y="{by}" class="label" text-anchor="middle">{axis}</text>'
        '<text x="{left}" y="12" class="label">Rows by difference (tallest bar: {top} rows)</text></svg>',
        w=width, h=height, ticks=ticks, interval=interval, bars=bars, x0=x(0), xm=x(margin), t=top_margin,
        x0l=x(0) - 3, xmr=x(margin) + 3,
        b=top_margin + plot_h, label_y=top_margin - 4, cx=left + plot_w / 2, by=height - 8, left=left, top=top,
        axis="|actual − challenger| − |actual − champion| (left of $0: the challenger erred less)",
    )


def segments_svg(segments: Sequence[Mapping[str, Any]], margin: float) -> SafeString | None:
    """Each segment's mean difference with its Holm-adjusted interval, one line each, against $0 and the margin."""
    shown = [part for part in segments if part["difference"]["low"] is not None]
    if not shown:
        return None
    row_h, left, right, top_margin, bottom, width = 16, 220, 20, 20, 40, 640
    height = top_margin + row_h * len(shown) + bottom
    plot_w = width - left - right
    first = min(0.0, *(part["difference"]["low"] for part in shown))
    last = max(margin, *(part["difference"]["high"] for part in shown))

    def x(value: float) -> float:
        return round(left + (value - first) / (last - first) * plot_w, 1)

    lines = format_html_join(
        "",
        '<text x="{}" y="{}" class="tick" text-anchor="end">{}: {}</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="{}"/><circle cx="{}" cy="{}" r="3" class="{}">'
        '<title>{} {}: {} ({} to {}), n {}</title></circle>',
        (
            (left - 6, top_margin + i * row_h + 12, part["dimension"], part["group"],
             x(part["difference"]["low"]), top_margin + i * row_h + 8, x(part["difference"]["high"]),
             top_margin + i * row_h + 8, "harm" if part["difference"]["low"] > margin else "segment",
             x(part["difference"]["mean"]), top_margin + i * row_h + 8,
             "harm" if part["difference"]["low"] > margin else "segment",
             part["dimension"], part["group"], _money(part["difference"]["mean"]), _money(part["difference"]["low"]),
             _money(part["difference"]["high"]), part["n"])
            for i, part in enumerate(shown)
        ),
    )
    bottom_y = top_margin + row_h * len(shown)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'class="chart chart-comparison" aria-label="Mean difference by segment with Holm-adjusted intervals">'
        '<line x1="{x0}" y1="{t}" x2="{x0}" y2="{b}" class="zero"/><line x1="{xm}" y1="{t}" x2="{xm}" y2="{b}" class="margin"/>'
        '{lines}<text x="{x0l}" y="{ty}" class="tick" text-anchor="end">$0</text>'
        '<text x="{xmr}" y="{ty}" class="tick" text-anchor="start">margin {margin}</text></svg>',
        w=width, h=height, x0=x(0), xm=x(margin), t=top_margin, b=bottom_y, lines=lines, ty=bottom_y + 16,
        x0l=x(0) - 3, xmr=x(margin) + 3,
        margin=_money(margin),
    )
