"""Who may do what: each permission a staff page, an API operation or a template checks, defined once.

They are Django's model permissions (given to a staff user or a group in the admin), plus
``record_actual_charges``, which the Prediction model declares, ``change_models``, which
ModelChange declares, ``record_override``, which ChargeOverride declares, and ``change_serving``,
which ServingChange declares (their ``Meta.permissions``).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

# Read the stored history: the prediction list, monitoring, forecasts, the API's GETs.
HISTORY_PERMISSION = "predictor.view_prediction"
# Record (or correct) the actual charges billed against stored predictions.
RECORD_PERMISSION = "predictor.record_actual_charges"
# Score a CSV file of patients as a batch on the staff page.
BATCH_PERMISSION = "predictor.add_batch"
# Read a model version's card and report.
MODEL_VERSION_PERMISSION = "predictor.view_modelversion"
# Set or clear the challenger, promote it, or change the serving model in the admin.
MODEL_CHANGE_PERMISSION = "predictor.change_models"
# Read the champion-and-challenger comparison and the history of model changes.
MODEL_CHANGE_VIEW_PERMISSION = "predictor.view_modelchange"
# Override a stored prediction's estimate with a reviewed charge (EU AI Act Art. 14(4)(d)).
OVERRIDE_PERMISSION = "predictor.record_override"
# Pause and resume the service: no prediction is made while it is paused (Art. 14(4)(e)).
SERVING_PAUSE_PERMISSION = "predictor.change_serving"


def staff_with(user: AbstractBaseUser, permission: str) -> bool:
    """Whether a user is active staff holding ``permission`` (superusers hold every one)."""
    return bool(user.is_active and user.is_staff and user.has_perm(permission))


def history_reader(user: AbstractBaseUser) -> bool:
    """Whether a user may read the stored history: active staff with the "Can view prediction" permission."""
    return staff_with(user, HISTORY_PERMISSION)
