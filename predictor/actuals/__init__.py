"""Actual charges: what was billed for a year, recorded by staff against stored predictions.

- ``services``: recording them, one or many, all or none, with an audit trail of every change
  (the admin form, the upload page, ``manage.py record_actuals`` and the API all call it).
- ``files``: files of ``prediction_id,actual_charges``, read by the generic CSV reader.
- ``columns``: such files checked as columns (plain values as arrays, the rest as ``services`` checks
  them) and recorded with set-based SQL: lookups and an UPDATE from arrays, the audit trail with COPY.
- ``forms``: the admin's field on a prediction and the upload page's form.
- ``views``: the staff page that records a file.
- ``selectors``: the predictions with actual charges as training data (``export_training_data``).
"""
