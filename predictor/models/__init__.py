"""What the predictor stores, one module per kind of record; every model is importable from here.

- ``predictions``: the model versions, the files scored, every prediction and its actual charges.
- ``changes``: the challenger's scores of stored predictions and the record of every model change.
- ``access``: API tokens, rate-limit counts and the staff access log.
- ``oversight``: staff overrides of estimates and every pause and resume of the service.
"""

from .access import AccessLogEntry, ApiToken, RateLimit
from .changes import ChallengerScore, ModelChange
from .oversight import ChargeOverride, ServingChange
from .predictions import ActualChargeChange, Batch, ModelVersion, Prediction

__all__ = [
    "AccessLogEntry",
    "ActualChargeChange",
    "ApiToken",
    "Batch",
    "ChallengerScore",
    "ChargeOverride",
    "ModelChange",
    "ModelVersion",
    "Prediction",
    "RateLimit",
    "ServingChange",
]
