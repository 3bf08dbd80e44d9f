"""Synthetic stored predictions for the benchmarks that need many rows (bench-admin, the forecast)."""

from __future__ import annotations

import time
from collections.abc import Callable


def predictions_insert(*, rows: int, model_version_id: int, log: Callable[[str], None], minutes_apart: int | None = None,
                       over_days: float | None = None) -> None:
    """Insert ``rows`` predictions in one statement, one a minute back from now (wrapping after ``minutes_apart``),
    or, with ``over_days``, evenly spread back from now over that many days."""
    from django.db import connection

    if over_days is not None:
        age = f"i * {over_days * 24 * 60 / rows!r}"
    else:
        age = "i" if minutes_apart is None else f"i %% {int(minutes_apart)}"
    log(f"inserting {rows:,} predictions")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO predictor_prediction (age, sex, bmi, children, smoker, region, predicted_charges,
                predicted_charges_low, predicted_charges_high, model_version_id, source, created_at)
            SELECT 18 + i %% 47, (ARRAY['female','male'])[1 + i %% 2], 16 + (i %% 3700) / 100.0, i %% 6,
                   (ARRAY['yes','no','no','no','no'])[1 + i %% 5],
                   (ARRAY['northeast','northwest','southeast','southwest'])[1 + i %% 4],
                   1000 + i %% 60000, 900 + i %% 60000, 1100 + i %% 60000, %s,
                   (ARRAY['web','api','batch','shell'])[1 + i %% 4],
                   now() - (({age}) || ' minutes')::interval
            FROM generate_series(1, %s) AS i
            """,
            [model_version_id, rows],
        )
        cursor.execute("ANALYZE predictor_prediction")
    log(f"inserted in {time.perf_counter() - started:.1f} s")
