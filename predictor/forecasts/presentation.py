"""Presenting a forecast: one dictionary for the command and the API, a CSV of the breakdown, text, and what
the staff page shows (with its chart)."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
from django.utils import timezone

from ..ml.forecast import RANGES
from .charts import total_svg
from .services import Forecast

HISTOGRAM_BINS = 40
DIMENSION_LABELS = {"region": "Region", "smoker": "Smoker", "sex": "Sex", "age_band": "Age band", "month": "Month"}


def _dollars(value: float) -> float:
    return round(float(value), 2)


def _figures_out(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "patients": figures["patients"],
        "point_sum": _dollars(figures["point_sum"]),
        "expected_total": _dollars(figures["expected_total"]),
        "median_total": _dollars(figures["median_total"]),
        "ranges": {level: [_dollars(low), _dollars(high)] for level, (low, high) in figures["ranges"].items()},
        "naive_interval_sum": [_dollars(value) for value in figures["naive_interval_sum"]],
        "extrapolated": figures["extrapolated"],
    }


def forecast_histogram(forecast: Forecast, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
    """The seeded draws of the total as a histogram: ``bins`` equal bins from the smallest to the largest draw."""
    low, high = float(forecast.draws.min()), float(forecast.draws.max())
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(forecast.draws, bins=bins, range=(low, high))
    return {"edges": [_dollars(edge) for edge in edges], "counts": [int(count) for count in counts]}


def forecast_as_dict(forecast: Forecast) -> dict[str, Any]:
    """The forecast as JSON: what ``manage.py forecast --json`` prints and ``POST /api/v1/forecasts`` answers."""
    draws = forecast.draws
    return {
        "cohort": forecast.cohort,
        "model_version": forecast.model_version,
        "seed": forecast.seed,
        **_figures_out(forecast.total),
        "breakdown": [
            {"dimension": row["dimension"], "value": row["value"], **_figures_out(row)} for row in forecast.breakdown
        ],
        "simulation": {
            "draws": int(len(draws)),
            "mean": _dollars(draws.mean()),
            "ranges": {
                level: [_dollars(value) for value in np.quantile(draws, pair, method="inverted_cdf")]
                for level, pair in RANGES.items()
            },
            "histogram": forecast_histogram(forecast),
        },
    }


BREAKDOWN_COLUMNS = (
    "dimension", "value", "patients", "expected_total", "median_total",
    *(f"range_{level}_{end}" for level in RANGES for end in ("low", "high")),
    "point_sum", "naive_interval_low", "naive_interval_high", "extrapolated",
)


def forecast_breakdown_rows(forecast: Forecast) -> list[dict[str, Any]]:
    """The total ("all") and every breakdown row, flat, as the CSV download has them."""
    rows = []
    for dimension, value, figures in [("all", "all", forecast.total)] + [
        (row["dimension"], row["value"], row) for row in forecast.breakdown
    ]:
        out = _figures_out(figures)
        flat = {"dimension": dimension, "value": value, "patients": out["patients"],
                "expected_total": out["expected_total"], "median_total": out["median_total"]}
        for level, (low, high) in out["ranges"].items():
            flat[f"range_{level}_low"], flat[f"range_{level}_high"] = low, high
        flat.update(point_sum=out["point_sum"], naive_interval_low=out["naive_interval_sum"][0],
                    naive_interval_high=out["naive_interval_sum"][1], extrapolated=out["extrapolated"])
        rows.append(flat)
    return rows


def forecast_breakdown_csv(forecast: Forecast) -> str:
    """The breakdown (with the total first) as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=BREAKDOWN_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(forecast_breakdown_rows(forecast))
    return out.getvalue()


def forecast_text(forecast: Forecast) -> str:
    """The forecast as a few lines of text and a breakdown table, for the command line."""
    out = _figures_out(forecast.total)

    def money(value: float) -> str:
        return f"${value:,.0f}"

    lines = [
        f"Forecast of {forecast.cohort} by model {forecast.model_version} (seed {forecast.seed})",
        f"expected total    {money(out['expected_total'])}  (the served estimates sum to {money(out['point_sum'])})",
        f"median total      {money(out['median_total'])}",
        *(f"{level}% range         {money(low)} to {money(high)}" for level, (low, high) in out["ranges"].items()),
        f"naive sum of the patients' 90% intervals: {money(out['naive_interval_sum'][0])} to "
        f"{money(out['naive_interval_sum'][1])} (not a range for the total: it assumes every patient lands on a bound)",
    ]
    if out["extrapolated"]:
        lines.append(f"{out['extrapolated']:,} patients lie outside the model's training ranges: their estimates are extrapolations")
    lines += ["", f"{'breakdown':<22}{'patients':>10}{'expected total':>18}{'90% range':>34}{'outside':>9}"]
    for row in forecast.breakdown:
        figures = _figures_out(row)
        low, high = figures["ranges"]["90"]
        lines.append(
            f"{DIMENSION_LABELS[row['dimension']] + ' ' + row['value']:<22}{figures['patients']:>10,}"
            f"{money(figures['expected_total']):>18}{money(low) + ' to ' + money(high):>34}{figures['extrapolated']:>9,}"
        )
    return "\n".join(lines)


def forecast_page(forecast: Forecast) -> dict[str, Any]:
    """What the staff page shows of a forecast: its figures, the breakdown with labels, the chart and the CSV download."""
    figures = forecast_as_dict(forecast)
    download = base64.b64encode(forecast_breakdown_csv(forecast).encode()).decode()
    rows = []
    for row in figures["breakdown"]:
        rows.append({**row, "label": DIMENSION_LABELS[row["dimension"]]})
    naive_width = figures["naive_interval_sum"][1] - figures["naive_interval_sum"][0]
    range_width = figures["ranges"]["90"][1] - figures["ranges"]["90"][0]
    return {
        "result": figures,
        "breakdown": rows,
        "chart": total_svg(figures),
        "download": f"data:text/csv;charset=utf-8;base64,{download}",
        "download_name": f"forecast-{timezone.now():%Y%m%d-%H%M%S}.csv",
        "naive_times": naive_width / range_width if range_width else None,
        "levels": [(level, figures["ranges"][level]) for level in ("50", "80", "90")],
    }
