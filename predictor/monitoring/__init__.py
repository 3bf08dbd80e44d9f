"""Live monitoring of the stored predictions: accuracy, calibration and drift, for staff.

- ``report``: the report for a period and model version (``monitoring_report``), built from
  the aggregates of ``queries`` (PostgreSQL) with the statistics of ``predictor.ml.stats``.
- ``figures``: what a report holds, and its JSON (``monitor_report --json``).
- ``queries``: the SQL, aggregating in PostgreSQL rather than in Python.
- ``cards``: what the model cards say about themselves (holdout, drift reference, interval groups,
  cohort calibration).
- ``fairness``: the figures by group (sex, age band, region, smoker, sex × smoker) over the recorded
  actual charges, with bootstrap intervals (``fairness_live``; ``fairness_report``), and the wording.
- ``views``: the staff pages in the admin (the monitoring report, a model version's report).
- ``charts``: the SVG charts of both pages.
"""

from .cards import drift_reference_for, model_version_holdout
from .figures import MonitoringReport
from .report import MonitoringUnavailable, monitoring_report

__all__ = [
    "MonitoringReport",
    "MonitoringUnavailable",
    "drift_reference_for",
    "model_version_holdout",
    "monitoring_report",
]
