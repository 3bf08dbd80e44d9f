"""Who calls the API: a bearer token (``Authorization: Bearer TOKEN``) or a staff session, and the check
that a caller may read the stored history."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.security import HttpBearer, SessionAuth

from ..security import tokens
from ..security.permissions import history_reader
from .errors import BAD_TOKEN


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer TOKEN``, a token made with ``manage.py create_api_token`` or in the admin.

    ``optional=True`` (creating predictions): no Authorization header is an anonymous caller,
    and a header that does not hold a valid bearer token is 401, never silently anonymous.
    """

    def __init__(self, *, optional: bool = False):
        self.optional = optional
        super().__init__()

    def __call__(self, request: HttpRequest):
        if self.optional and not request.headers.get(self.header):
            return AnonymousUser()
        user = super().__call__(request)
        # Tokens are made for staff; one whose user is no longer staff raises no limit.
        if self.optional and (user is None or not user.is_staff):
            raise AuthenticationError(message=BAD_TOKEN)
        return user

    def authenticate(self, request: HttpRequest, token: str):
        api_token = tokens.api_token_use(key=token)
        if api_token is None:
            return None
        request.api_token = api_token  # the access log names the token as well as its user
        request.api_token_hash = api_token.key_hash  # whose rate limit (predictor.security.ratelimit)
        return api_token.user


HISTORY_AUTH = [ApiTokenAuth(), SessionAuth()]


def history_reader_require(request: HttpRequest) -> None:
    """403 unless the caller is active staff with the \"Can view prediction\" permission."""
    if not history_reader(request.auth):
        raise AuthorizationError(
            message='Reading the history needs a staff account with the "Can view prediction" permission.'
        )
