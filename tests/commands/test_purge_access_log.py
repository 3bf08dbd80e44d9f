"""manage.py purge_access_log: deletes the access log's entries older than the retention period, in batches."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from predictor.models import AccessLogEntry

pytestmark = pytest.mark.django_db

Action = AccessLogEntry.Action


def entry_aged(days: float) -> AccessLogEntry:
    return AccessLogEntry.objects.create(
        created_at=timezone.now() - timedelta(days=days), command="test", action=Action.MONITORING, row_count=0
    )


def purge(*args) -> str:
    out = io.StringIO()
    call_command("purge_access_log", *args, stdout=out)
    return out.getvalue()


def test_purge_deletes_only_entries_older_than_the_retention_setting(settings):
    assert settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS == 2190  # the default: six years
    minute = 1 / (24 * 60)
    entry_aged(2190 + minute), entry_aged(3000)  # older than six years: deleted
    kept = {entry_aged(2190 - minute).pk, entry_aged(1).pk}

    output = purge()

    assert set(AccessLogEntry.objects.values_list("pk", flat=True)) == kept
    assert output.startswith("Deleted 2 access log entries made before ")
    cutoff = (timezone.now() - timedelta(days=2190)).strftime("%Y-%m-%d")
    assert f"made before {cutoff} " in output and "(older than 2,190 days)" in output


def test_purge_follows_the_setting_and_older_than_overrides_it(settings):
    settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS = 30
    for days in (29, 31, 45, 100):
        entry_aged(days)
    assert "Deleted 3 " in purge()
    assert "Deleted 0 access log entries" in purge("--older-than", "30")
    assert "Deleted 1 access log entry " in purge("--older-than", "10")
    assert AccessLogEntry.objects.count() == 0


def test_a_dry_run_counts_and_deletes_nothing():
    for days in (10, 20, 30):
        entry_aged(days)

    output = purge("--older-than", "15", "--dry-run")

    assert output.startswith("Would delete 2 access log entries made before ")
    assert "nothing deleted (dry run)" in output
    assert AccessLogEntry.objects.count() == 3


def test_purge_deletes_in_batches_until_none_is_left():
    for _ in range(7):
        entry_aged(40)
    entry_aged(1)

    assert "Deleted 7 access log entries" in purge("--older-than", "30", "--batch-size", "3")
    assert AccessLogEntry.objects.count() == 1


@pytest.mark.parametrize("days", ["0", "-3", "1.5", "six"])
def test_purge_refuses_a_bad_number_of_days(days):
    with pytest.raises(CommandError, match="positive whole number"):
        call_command("purge_access_log", "--older-than", days)
