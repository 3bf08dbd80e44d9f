"""The challenger: a model version scored on the stored predictions beside the champion, off the request path.

- ``scores``: ``challenger_score`` (``manage.py challenger_score``), which stores what the challenger
  (and the champion, on rows another version made) answers for every stored prediction's inputs.

Which version is the challenger, and every change of it, is ``predictor.serving``'s job.
"""

from .scores import NoChallengerError, ScoreOutcome, ScoringBusyError, challenger_score

__all__ = ["NoChallengerError", "ScoreOutcome", "ScoringBusyError", "challenger_score"]
