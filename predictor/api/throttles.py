"""The API's rate limits (``predictor.security.ratelimit``), as django-ninja throttles: every operation counts
on arrival, but ``POST /predictions``, whose one-row prediction is counted by the statement that stores it."""

from __future__ import annotations

from functools import wraps

from django.db import Error as DatabaseDriverError
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from ..security import ratelimit
from . import errors


class RateLimitThrottle(BaseThrottle):
    """Every operation but ``POST /predictions`` (``PredictionRateLimitThrottle``), after authentication and
    before the body is read: an anonymous caller counts
    against its address's limit, a token or a staff session against the token limit (``predictor.security.ratelimit``).

    A refusal, or a store that cannot be reached, is kept on the request for the answer that
    ninja asks ``errors`` for (429 with Retry-After, or 503); this object is shared by every request.
    """

    def allow_request(self, request: HttpRequest) -> bool:
        try:
            ratelimit.caller_charge(request, request.auth).check()
        except (ratelimit.RateLimited, DatabaseDriverError) as exc:
            request.rate_limit_refusal = exc
            return False
        return True


class PredictionRateLimitThrottle(BaseThrottle):
    """``POST /predictions``: the request's count (``ratelimit.Charge``), kept on the request and not made yet.

    The one-row prediction is counted by the statement that stores it; any other end (a batch,
    a bad input or body) is counted by ``counted`` once the answer is made, and over the limit
    the answer is the 429 instead.
    """

    def allow_request(self, request: HttpRequest) -> bool:
        request.rate_limit_charge = ratelimit.caller_charge(request, request.auth)
        return True


def counted(run):
    """Wrap an operation's run: count its request's charge if nothing did, and answer 429 (or 503) instead over
    the limit. A charge already counted and refused raised RateLimited, which ``errors`` answered with the 429."""

    @wraps(run)
    def counted(request: HttpRequest, *args, **kwargs):
        response = run(request, *args, **kwargs)
        charge = getattr(request, "rate_limit_charge", None)
        if charge is None or charge.decision is not None:  # refused before the throttle (authentication), or counted
            return response
        try:
            charge.check()
        except (ratelimit.RateLimited, DatabaseDriverError) as exc:
            request.rate_limit_refusal = exc
            return errors.rate_limit_refused(run.__self__.api, request)
        return response

    return counted
