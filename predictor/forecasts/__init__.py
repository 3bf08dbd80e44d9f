"""Cash-flow forecasts for a group of patients: the expected total, its 50/80/90% ranges and a breakdown.

A cohort is a CSV file of patients (the batch files' columns and rules; nothing is stored), a list
of records cleaned by the API's schema, or a filter of stored predictions. Whatever its source, it
is reduced to sums per cell of (sex, smoker, region, obesity, age band, month): the patient count
and the sums of age, age², BMI and children (in PostgreSQL for stored predictions). Those sums are
all the forecasting model needs (``ml.forecast``): its estimate is linear in them, and each
patient's residual depends on smoker and obesity only. Stored predictions are re-priced by the
forecasting model from their inputs, so a cohort's figures do not depend on which version made each
stored prediction. Anonymised predictions (``predictor.retention``) are priced from their bands, which
keep every cell (sex, smoker, region, obesity, age band, month) and so every count; the cohort's
description says how many there are.

The forecasting model is the active version unless one is named; a version whose card has no
predictive distribution (trained before forecasts) is refused with a message naming one that has.

- ``cohorts``: a cohort as sums per cell, from arrays, a CSV file (cleaned as batch files are, by
  ``predictor.columns``), records, or a filter of stored predictions summed in PostgreSQL.
- ``services``: the forecasting model and the forecast of a cohort (``forecast_from_table``,
  ``forecast_from_records``, ``forecast_from_stored``).
- ``presentation``: the forecast as JSON (the command and the API), a breakdown CSV and text.
- ``views`` and ``charts``: the staff page "Forecast" and its SVG chart of the total.
"""
