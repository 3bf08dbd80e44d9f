"""Batch files: CSV files of patients scored at once and stored as one Batch.

- ``files``: the patients' kind of CSV file (read by ``predictor.csv_io``), its columns cleaned
  (``predictor.columns``), scoring a file as a batch through columns, and writing it back with a
  ``predicted_charges`` column.
- ``views``: the staff page that scores an uploaded file.
"""
