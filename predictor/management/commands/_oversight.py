"""What ``serving_pause`` and ``serving_resume`` share: who acts, the exit status of a change that changes nothing."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from ...security.permissions import SERVING_PAUSE_PERMISSION, staff_with

# The exit status when the service already was in the state asked for (1 is an error, 2 a usage error).
NOTHING_CHANGED = 3


def acting_user(username: str | None) -> AbstractBaseUser | None:
    """The staff user ``--user`` names (None without it); CommandError when there is none or they may not pause."""
    if not username:
        return None
    model = get_user_model()
    user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"There is no user {username!r}.")
    if not staff_with(user, SERVING_PAUSE_PERMISSION):
        raise CommandError(f"{username!r} is not active staff with the \"Can pause and resume the service\" permission.")
    return user


def reason_problem(exc: ValidationError) -> str:
    return " ".join(message for messages in exc.message_dict.values() for message in messages)


def reach_sentence() -> str:
    """How soon every server follows a pause or a resume."""
    return f"Every server follows within {settings.PREDICTOR_PAUSE_TTL:g} seconds (PREDICTOR_PAUSE_TTL)."
