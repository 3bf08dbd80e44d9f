"""The machine-learning package: the only code that imports PyCaret or scikit-learn (besides
``predictor/features.py``, the feature step pickled inside the pipeline).

- ``artifacts``: the model card, the sha256 check, the verified load and the per-process cache.
- ``predict``: input frames, ``predict_charges`` (fast path or pipeline), extrapolation.
- ``fast_path``: the exact one-row fast path compiled from a fitted pipeline.
- ``interval``: conformal offsets, interval groups and their labels, ``prediction_interval``.
- ``training``: train a pipeline and write its card.
- ``compare``: champion against challenger on the same rows: paired differences, segments, the verdict.
- ``fairness``: figures by group with stratified bootstrap intervals, the discrimination-free estimate.
- ``fairness_fit``: the card's ``fairness``: out-of-fold rows of training's splits, the variants without sex.
- ``floor``: the grid over the accepted inputs on which a version must never answer below $0.

Nothing here touches the database; which version serves is ``predictor.serving``'s job.
"""
