"""Live monitoring of the stored predictions: accuracy, calibration and drift, for staff.

- ``report``: the report for a period and model version (``monitoring_report``), built from
  the aggregates of ``queries`` (PostgreSQL) with the statistics of ``predictor.ml.stats``.
- ``figures``: what a report holds, and its JSON (``monitor_report --json``).
- ``queries``: the SQL, aggregating in PostgreSQL rather than in Python.
- ``views``: the staff pages in the admin (the report, recording actual charges from a file).
- ``charts``: the report's SVG charts.
"""

from .figures import MonitoringReport
from .report import (
    TRAINING_COLUMNS,
    MonitoringUnavailable,
    drift_reference_for,
    model_version_holdout,
    monitoring_report,
    training_rows,
    training_rows_anonymised,
    training_rows_count,
)

__all__ = [
    "TRAINING_COLUMNS",
    "MonitoringReport",
    "MonitoringUnavailable",
    "drift_reference_for",
    "model_version_holdout",
    "monitoring_report",
    "training_rows",
    "training_rows_anonymised",
    "training_rows_count",
]
