"""The page a locked-out admin sign-in gets (django-axes calls ``lockout_response``; settings say when).

429 Too Many Requests, in the admin's look, with the time the lock ends if nobody tries again
(the cool-off after this attempt: every attempt while locked starts the wait again), and a
``Retry-After`` header saying the same in seconds.
"""

from __future__ import annotations

from http import HTTPStatus

from axes.helpers import get_cool_off
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None) -> HttpResponse:
    """The lockout page for this request: when to try again, and that an administrator can unlock."""
    cool_off = get_cool_off(request)
    since = getattr(request, "axes_attempt_time", None) or timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in locked",
        "until": since + cool_off,
        "minutes": int(cool_off.total_seconds() // 60),
    }
    response = render(request, "admin/login_locked.html", context, status=HTTPStatus.TOO_MANY_REQUESTS)
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
