"""What the commands that change the model share: who decides the change (``--user``) and why (``--reason``)."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from predictor.models import ModelChange
from predictor.serving import ChangeBy


def change_by(*, user: str | None, reason: str, channel: str = ModelChange.Channel.COMMAND) -> ChangeBy:
    """The ChangeBy of a command: ``user`` must be an active account's username (or absent)."""
    account = None
    if user:
        account = get_user_model().objects.filter(username=user, is_active=True).first()
        if account is None:
            raise CommandError(f"No active user is called {user!r}: give --user an existing username, or leave it out.")
    return ChangeBy(channel=channel, user=account, reason=reason.strip())
