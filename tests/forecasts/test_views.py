"""The staff page "Forecast" (predictor/forecast_views.py) and its chart (predictor/forecast_chart.py)."""

import base64
import csv
import io
import re
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone as django_timezone

from predictor import services, serving
from predictor.forecasts.charts import money, total_svg
from predictor.forecasts.presentation import forecast_as_dict
from predictor.forecasts.services import forecast_from_records
from predictor.models import Batch, Prediction
from tests.factories import random_valid_rows

URL = "/admin/predictor/prediction/forecast/"
COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region")


def csv_file(rows, name="members.csv") -> SimpleUploadedFile:
    text = ",".join(COLUMNS) + "\n" + "".join(",".join(str(row[c]) for c in COLUMNS) + "\n" for row in rows)
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def download_of(html: str) -> list[dict]:
    encoded = re.search(r'<a href="data:text/csv;charset=utf-8;base64,([^"]+)" download="[^"]+" id="forecast-download"', html).group(1)
    return list(csv.DictReader(io.StringIO(base64.b64decode(encoded).decode())))


def money_text(value: float) -> str:
    return f"${value:,.0f}"


# ---------------------------------------------------------------------------
# Who may see it


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_staff_login(client):
    response = client.get(URL)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/?next=/admin/predictor/prediction/forecast/")


@pytest.mark.django_db
def test_members_and_staff_without_the_view_permission_are_forbidden(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("member", password="x"))
    assert client.get(URL).status_code == HTTPStatus.FORBIDDEN
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == HTTPStatus.FORBIDDEN
    clerk.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    client.force_login(django_user_model.objects.get(pk=clerk.pk))
    assert client.get(URL).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_the_admin_index_links_to_it(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert f'href="{URL}" id="forecast-link"' in html


# ---------------------------------------------------------------------------
# A file


@pytest.mark.django_db
def test_a_file_shows_the_totals_ranges_breakdown_chart_and_download_and_stores_nothing(admin_client):
    rows = random_valid_rows(120, seed=21)
    response = admin_client.post(URL, {"file": csv_file(rows), "seed": 3})
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    expected = forecast_as_dict(forecast_from_records(rows, seed=3))
    assert money_text(expected["expected_total"]) in html.split('id="expected-total"')[1][:80]
    for level in ("50", "80", "90"):
        low, high = expected["ranges"][level]
        row = html.split(f'id="range-{level}"')[1][:200]
        assert money_text(low) in row and money_text(high) in row
    assert "Nothing was stored." in html and Prediction.objects.count() == 0 and Batch.objects.count() == 0
    # The breakdown: a table, and the same as CSV.
    for dimension in ("region", "smoker", "sex", "age_band"):
        assert f'class="dimension-{dimension}"' in html
    download = download_of(html)
    assert (download[0]["dimension"], int(download[0]["patients"])) == ("all", 120)
    assert float(download[0]["expected_total"]) == expected["expected_total"]
    assert len(download) == 1 + len(expected["breakdown"])
    # The chart is well-formed SVG with its ten thousand draws.
    svg = re.search(r'<div id="forecast-chart">(<svg.*?</svg>)', html, re.S).group(1)
    ElementTree.fromstring(svg)
    assert "10,000 seeded draws" in svg
    # Random inputs include ages over 64: flagged.
    assert 'id="forecast-extrapolated"' in html and "⚠" in html


@pytest.mark.django_db
def test_a_file_is_stored_as_a_batch_only_when_asked(admin_client, admin_user):
    rows = random_valid_rows(30, seed=22)
    response = admin_client.post(URL, {"file": csv_file(rows), "store": "on"})
    assert response.status_code == HTTPStatus.OK
    batch = Batch.objects.get()
    assert (batch.row_count, batch.created_by, batch.file_name) == (30, admin_user, "members.csv")
    assert f"batch {batch.pk}</a>" in response.content.decode()


@pytest.mark.django_db
def test_a_bad_file_lists_the_batch_files_problems_by_line_and_stores_nothing(admin_client):
    rows = random_valid_rows(10, seed=23)
    rows[1]["smoker"] = "sometimes"
    rows[6]["age"] = "-3"
    response = admin_client.post(URL, {"file": csv_file(rows), "store": "on"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert "members.csv was not forecast: 2 bad rows. Nothing was stored." in html
    assert "<li>line 3: smoker: Choose the smoking status from: yes, no.</li>" in html
    assert "<li>line 8: age: " in html
    assert Prediction.objects.count() == 0 and Batch.objects.count() == 0


@pytest.mark.django_db
def test_a_file_that_is_not_csv_is_refused(admin_client):
    upload = SimpleUploadedFile("members.xlsx", b"PK\x03\x04\x00\x00binary", content_type="application/octet-stream")
    response = admin_client.post(URL, {"file": upload})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "this is not CSV text" in response.content.decode()


# ---------------------------------------------------------------------------
# Stored predictions


@pytest.mark.django_db
def test_this_months_admissions_are_one_link_away(admin_client):
    now = django_timezone.now()
    rows = random_valid_rows(40, seed=24)
    stored = services.prediction_create_many(rows=rows, source="web")
    earlier = [p.pk for p in stored[:10]]
    Prediction.objects.filter(pk__in=earlier).update(created_at=now.replace(day=1) - timedelta(days=3))
    html = admin_client.get(URL).content.decode()
    link = re.search(r'<a href="\?([^"]+)" class="month-link">This month</a>', html).group(1).replace("&amp;", "&")
    response = admin_client.get(f"{URL}?{link}")
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "30 patients, forecast by model" in page
    assert 'class="dimension-month"' in page
    download = download_of(page)
    assert [row["value"] for row in download if row["dimension"] == "month"] == [f"{now:%Y-%m}"]


@pytest.mark.django_db
def test_a_filter_by_date_region_and_source_matches_the_records_forecast(admin_client):
    rows = random_valid_rows(60, seed=25)
    stored = services.prediction_create_many(rows=rows, source="api")
    Prediction.objects.filter(pk__in=[p.pk for p in stored]).update(created_at=datetime(2026, 6, 15, tzinfo=timezone.utc))
    response = admin_client.get(URL, {"cohort": "stored", "since": "2026-06-15", "until": "2026-06-15",
                                      "region": "northeast", "source": "api"})
    chosen = [row for row in rows if row["region"] == "northeast"]
    expected = forecast_as_dict(forecast_from_records(chosen))
    html = response.content.decode()
    assert f"{len(chosen)} patients, forecast by model" in html
    assert money_text(expected["expected_total"]) in html.split('id="expected-total"')[1][:80]


@pytest.mark.django_db
def test_a_filter_that_selects_nobody_says_so(admin_client):
    response = admin_client.get(URL, {"cohort": "stored", "since": "2030-01-01", "until": "2030-01-31"})
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "No stored prediction matches this filter, so there is nothing to forecast" in response.content.decode()


@pytest.mark.django_db
def test_a_database_that_does_not_answer_gives_503_with_a_message(admin_client, locked_prediction_table):
    response = admin_client.get(URL, {"cohort": "stored"})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "The stored predictions cannot be read right now" in response.content.decode()


@pytest.mark.django_db
def test_a_bad_filter_names_its_field(admin_client):
    response = admin_client.get(URL, {"cohort": "stored", "since": "2026-06-15", "until": "2026-06-01", "batch": "x"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert "The last day comes before the first." in html and "Enter a whole number." in html


@pytest.mark.django_db
def test_a_model_without_a_distribution_is_named_with_one_that_has(admin_client):
    serving.model_version_activate(name="huber-blend-v1")
    response = admin_client.post(URL, {"file": csv_file(random_valid_rows(5, seed=26))})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "huber-blend-v1 has no predictive distribution" in response.content.decode()
    assert "activate_model huber-blend-v2" in response.content.decode()


# ---------------------------------------------------------------------------
# The chart


def test_money_reads_at_a_glance():
    assert [money(v) for v in (950, 12_345, 1_234_567, 45_600_000, 2_340_000_000)] == ["$950", "$12.3k", "$1.23M", "$45.6M", "$2.34B"]


@pytest.mark.django_db
def test_the_chart_places_the_ranges_and_the_naive_sum_where_the_figures_are():
    figures = forecast_as_dict(forecast_from_records(random_valid_rows(500, seed=27)))
    svg = ElementTree.fromstring(str(total_svg(figures)))
    namespace = {"s": "http://www.w3.org/2000/svg"}
    shaded = {rect.get("class"): rect for rect in svg.iterfind("s:rect", namespace) if rect.get("class", "").startswith("r")}
    assert set(shaded) == {"r50", "r80", "r90"}
    widths = {name: float(rect.get("width")) for name, rect in shaded.items()}
    assert widths["r50"] < widths["r80"] < widths["r90"]
    bars = [rect for rect in svg.iterfind("s:rect", namespace) if rect.get("class") == "bar"]
    assert 10 <= len(bars) <= 40
    titles = [rect.find("s:title", namespace).text for rect in shaded.values()]
    assert f"90% range: {money(figures['ranges']['90'][0])} to {money(figures['ranges']['90'][1])}" in titles
    naive = [line for line in svg.iterfind("s:line", namespace) if line.get("class") == "naive"]
    assert len(naive) == 1
