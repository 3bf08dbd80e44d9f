"""The guards around pages: the public form's rate limit, and the one guard of every staff page.

- ``anonymous_rate_limited``: a public POST counts against its client address's rate limit
  (``ratelimit``); over it, the 429 page with Retry-After, and nothing is stored.
- ``staff_page``: anonymous visitors go to the admin's sign-in; signed-in users who are not
  active staff holding the page's permission get 403. The admin site mounts every staff page
  through it (``predictor.sites``), so each is guarded the same way.
"""

from __future__ import annotations

import logging
from functools import wraps
from http import HTTPStatus

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import Error as DatabaseDriverError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from . import ratelimit
from .permissions import staff_with

logger = logging.getLogger(__name__)

# What the public is told when a prediction cannot be made or stored.
UNAVAILABLE_MESSAGES = {
    "database": _("We could not record your estimate, so we are not showing one."),
    "model": _("The prediction model is not available right now."),
    "paused": _("Our staff have paused the estimates for now, so we are not giving one."),
}


def unavailable_page(request: HttpRequest, kind: str) -> HttpResponse:
    """The public 503 page: the database or the model (``kind``) could not answer, or staff paused the service."""
    return render(request, "503.html", {"message": UNAVAILABLE_MESSAGES[kind]}, status=HTTPStatus.SERVICE_UNAVAILABLE)


def anonymous_rate_limited(view):
    """A POST counts against the client address's rate limit (``predictor.security.ratelimit``); over it, the 429 page
    with Retry-After, and nothing is stored. A GET is not counted.

    The view gets the count as ``request.rate_limit_charge``: a valid prediction is counted in the
    same statement that stores it, and a POST that ended any other way is counted when it ends."""

    @wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        charge = request.rate_limit_charge = ratelimit.anonymous_charge(request)
        try:
            response = view(request, *args, **kwargs)  # RateLimited when the INSERT's own count refused it
            if charge.decision is None:  # it ended without storing a prediction: counted now
                charge.check()
        except ratelimit.RateLimited as exc:
            response = render(request, "429.html", {"retry_after": exc.retry_after}, status=HTTPStatus.TOO_MANY_REQUESTS)
            response["Retry-After"] = str(exc.retry_after)
        except DatabaseDriverError:  # the view answers its own database errors: this is the count's
            logger.exception("The rate limit could not be checked")
            return unavailable_page(request, "database")
        return response

    return limited


def staff_page(view, *, permission: str, refusal: str):
    """Guard a staff page: the admin's sign-in for anonymous visitors, 403 (saying ``refusal``) for users
    who are not active staff with ``permission``; never cached, as the admin's own pages."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not staff_with(request.user, permission):
            raise PermissionDenied(refusal)
        return view(request, *args, **kwargs)

    return never_cache(guarded)
