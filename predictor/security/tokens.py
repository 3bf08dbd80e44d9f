"""API tokens: a staff user's bearer token for reading the history. Only a hash is stored; the token is shown once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ..models import ApiToken

API_TOKEN_BYTES = 32
# Recording every use would write on every read; once a minute is enough to see a token is alive.
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_hash(key: str) -> str:
    """The stored form of a token: its sha256 (the token is 256 random bits, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Make a token for a user; return the row and the token itself, which is not stored anywhere."""
    key = secrets.token_urlsafe(API_TOKEN_BYTES)
    token = ApiToken(user=user, name=name, prefix=key[:8], key_hash=api_token_hash(key))
    token.full_clean()
    token.save()
    return token, key


def api_token_use(*, key: str) -> ApiToken | None:
    """The token, with its active user, that a key is (recording when it was used), or None for an unknown token."""
    token = ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > API_TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_authenticate(*, key: str) -> AbstractBaseUser | None:
    """The active user a token belongs to (recording when it was used), or None for an unknown token."""
    token = api_token_use(key=key)
    return None if token is None else token.user

