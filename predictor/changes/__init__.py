"""Changing the model on evidence: the champion compared with the challenger on actual charges, promoted by rule.

- ``scores``: ``challenger_score`` (``manage.py challenger_score``), which stores what the challenger
  (and the champion, on rows another version made) answers for every stored prediction's inputs, off
  the request path.
- ``selectors``: the rows compared (predictions with an actual charge and both versions' answers, the
  skipped ones counted), each segment's counts of predictions and actual charges, the history of changes.
- ``services``: the comparison (figures from ``predictor.ml.compare``, every read recorded in the access
  log) and the promotion of the challenger by the rule, recorded as a model change with its evidence.
- ``charts``: the SVG charts of the staff page (the paired differences, the segments' intervals).
- ``views``: the staff page "Champion and challenger" in the admin, with its Promote button.
"""
