"""manage.py serving_pause and serving_resume: the stop, recorded; twice changes nothing and exits 3."""

import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from predictor import serving
from predictor.models import ServingChange
from tests.conftest import database_url
from tests.logins import staff_with_permissions

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_pause_then_resume_are_recorded_and_say_how_soon_every_server_follows():
    assert "The service is paused: Drift alert. Every server follows within 2 seconds" in run("serving_pause", "--reason", "Drift alert")
    assert serving.serving_pause_state().paused

    assert "The service is resumed." in run("serving_resume", "--reason", "Explained")
    assert not serving.serving_pause_state().paused
    assert list(ServingChange.objects.order_by("id").values_list("kind", "reason", "channel", "username")) == [
        ("pause", "Drift alert", "command", ""), ("resume", "Explained", "command", ""),
    ]


def test_pausing_twice_changes_nothing_says_so_and_exits_3():
    run("serving_pause", "--reason", "first")
    with pytest.raises(CommandError, match=r"already paused \(since .* UTC: first\); nothing changed") as refused:
        run("serving_pause", "--reason", "second")
    assert refused.value.returncode == 3
    assert ServingChange.objects.count() == 1


def test_resuming_a_running_service_changes_nothing_says_so_and_exits_3():
    with pytest.raises(CommandError, match="already running; nothing changed") as refused:
        run("serving_resume")
    assert refused.value.returncode == 3 and not ServingChange.objects.exists()


def test_a_pause_needs_a_reason():
    with pytest.raises(CommandError, match="Give the reason for the pause"):
        run("serving_pause", "--reason", "  ")
    assert not ServingChange.objects.exists()


def test_the_user_named_is_recorded_and_must_be_staff_who_may_pause(django_user_model):
    staff_with_permissions(django_user_model, "operator", "change_serving")
    staff_with_permissions(django_user_model, "reader", "view_prediction")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run("serving_pause", "--reason", "x", "--user", "nobody")
    with pytest.raises(CommandError, match="'reader' is not active staff"):
        run("serving_pause", "--reason", "x", "--user", "reader")
    run("serving_pause", "--reason", "x", "--user", "operator")
    assert ServingChange.objects.get().username == "operator"


def test_the_command_line_exits_3_when_nothing_changes():
    """The exit status a script sees, through manage.py itself (a new process, on this test database)."""
    url = database_url()
    result = subprocess.run(
        [sys.executable, "manage.py", "serving_resume"], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "DJANGO_SECRET_KEY": "insecure-key-for-the-test-suite-only"},
    )
    assert result.returncode == 3, result.stderr
    assert "already running; nothing changed" in result.stderr
