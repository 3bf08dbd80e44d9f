"""Signing in to the admin through its real login form, from a given address, and a clock for the lockout."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.test import Client
from django.utils import timezone

PASSWORD = "correct horse battery staple"
# The load balancer's own address: with PREDICTOR_PROXY_HOPS=1 it is the socket's peer.
LOAD_BALANCER = "10.0.1.25"


def sign_in(username: str, password: str, *, peer: str = "127.0.0.1", forwarded_for: str | None = None) -> Client:
    """POST the admin login form as a new browser; the client keeps the answer in ``client.answer``."""
    client = Client(REMOTE_ADDR=peer)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    client.answer = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password, "next": "/admin/"}, headers=headers
    )
    return client


def signed_in(client: Client) -> bool:
    """The login worked: redirected to the admin, and the admin index answers."""
    return client.answer.status_code == HTTPStatus.FOUND and client.get("/admin/").status_code == HTTPStatus.OK


@pytest.fixture
def fast_hashing(settings):
    """Passwords hashed cheaply in these tests (every failed sign-in hashes once); only speed changes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(db, django_user_model, fast_hashing):
    """Two staff members who can use the admin."""
    return {
        name: django_user_model.objects.create_user(username=name, password=PASSWORD, is_staff=True, is_superuser=True)
        for name in ("alice", "bob")
    }


@pytest.fixture
def lockout_clock(monkeypatch):
    """The lockout's clock (django-axes stamps each attempt with it), moved forward by ``advance(minutes)``."""
    from axes.handlers import proxy

    class Clock:
        offset = timedelta(0)

        def now(self):
            return timezone.now() + self.offset

        def advance(self, minutes: float) -> None:
            self.offset += timedelta(minutes=minutes)

    clock = Clock()
    monkeypatch.setattr(proxy, "now", clock.now)
    return clock


def staff_with_permissions(django_user_model, username: str, *codenames: str):
    """An active staff user (not a superuser) with the password PASSWORD, holding exactly these predictor permissions."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username=username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="predictor", codename__in=codenames))
    return django_user_model.objects.get(pk=user.pk)  # a fresh object: no cached permissions
