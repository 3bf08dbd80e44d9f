"""views: the staff page shows either document in the admin's look and downloads it; each read is logged first;
a bad choice is a 400, a malformed provider file or an access log that cannot be written a 503 without data.
(Who may open it: tests/test_sites.py, with every staff page.)"""

from http import HTTPStatus

import pytest
from django.urls import reverse

from predictor.models import AccessLogEntry
from tests.conftest import table_locked

URL = reverse("admin:predictor_modelversion_technical_file")


@pytest.fixture
def staff(admin_client, provider_file):
    provider_file()
    return admin_client


def test_the_page_shows_the_technical_file_with_its_nine_sections_and_logs_the_read(scenario, staff, admin_user):
    response = staff.get(URL)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert 'id="site-name"' in page and "Technical documentation (EU AI Act, Art. 11 and Annex IV)" in page
    for number in range(1, 10):
        assert f'<section id="section-{number}">' in page
    assert "$1,565.67" in page  # the card's holdout MAE
    assert 'id="technical-file-missing"' not in page  # the provider file is complete
    entry = AccessLogEntry.objects.get()
    assert (entry.user, entry.action, entry.row_count, entry.path) == (admin_user, "technical_file", 1338, URL)
    assert entry.filters == {"document": "technical-file", "format": "page"}


def test_the_instructions_for_use_and_the_downloads(staff):
    page = staff.get(URL, {"document": "instructions-for-use"}).content.decode()
    assert "Instructions for use (EU AI Act, Art. 13(3))" in page and "(b)(ii) Declared accuracy" in page

    markdown = staff.get(URL, {"document": "technical-file", "download": "md"})
    assert markdown["Content-Disposition"] == 'attachment; filename="technical-file.md"'
    assert markdown["Content-Type"].startswith("text/markdown")
    assert markdown.content.decode().startswith("# Technical documentation")
    printable = staff.get(URL, {"document": "instructions-for-use", "download": "html"})
    assert printable["Content-Disposition"] == 'attachment; filename="instructions-for-use.html"'
    assert printable.content.decode().startswith("<!DOCTYPE html>")
    assert [entry.filters for entry in AccessLogEntry.objects.order_by("pk")] == [
        {"document": "instructions-for-use", "format": "page"},
        {"document": "technical-file", "format": "md"},
        {"document": "instructions-for-use", "format": "html"},
    ]


def test_missing_provider_fields_are_named_at_the_top(admin_client, no_provider_file):
    page = admin_client.get(URL).content.decode()
    assert 'id="technical-file-missing"' in page and "<code>provider.name</code>" in page
    assert "MISSING:</strong> <code>risk_management.description</code>" in page


@pytest.mark.parametrize("query", [{"document": "brochure"}, {"download": "pdf"}])
def test_an_unknown_document_or_format_is_a_400_that_logs_nothing(staff, query):
    response = staff.get(URL, query)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Choose document=technical-file or instructions-for-use" in response.content.decode()
    assert not AccessLogEntry.objects.exists()


def test_a_malformed_provider_file_is_shown_with_its_line_and_key_instead_of_the_document(admin_client, provider_file):
    provider_file("provider:\n  name: A\nrisk_management:\n  reviewed_on: soon\n")
    response = admin_client.get(URL)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    page = response.content.decode()
    assert "line 4: `risk_management.reviewed_on` must be a date written YYYY-MM-DD" in page
    assert "<h2>1." not in page and not AccessLogEntry.objects.exists()


@pytest.fixture
def locked_access_log(db):
    yield from table_locked("predictor_accesslogentry")


def test_when_the_read_cannot_be_logged_nothing_is_shown(staff, locked_access_log):
    response = staff.get(URL, {"download": "md"})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    page = response.content.decode()
    assert "could not be recorded in the staff access log" in page
    assert "<h2>1." not in page and "Content-Disposition" not in response
