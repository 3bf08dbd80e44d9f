"""Staff forecast in a real browser: from the admin to the Forecast page, a members file, this month's
admissions, the chart and the CSV download (Chromium through Playwright, as tests/browser/test_pages.py)."""

import csv
import os

import pytest

from predictor import services
from predictor.models import Prediction
from tests.factories import random_valid_rows

# A live server: the limits are raised as for any test that starts a server (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("raised_rate_limits")]
COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region")
SCREENSHOT = os.environ.get("FORECAST_SCREENSHOT")  # a path: keep a picture of the page, to look at


def log_in(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("planner", "planner@example.org", "a-long-test-password")
    page.goto(live_server.url + "/admin/")
    page.fill("input[name=username]", "planner")
    page.fill("input[name=password]", "a-long-test-password")
    page.click("input[type=submit]")


def test_staff_forecast_a_members_file_see_the_chart_and_download_the_breakdown(page, live_server, django_user_model, tmp_path):  # noqa: F811
    rows = random_valid_rows(400, seed=30)
    members = tmp_path / "members.csv"
    members.write_text(",".join(COLUMNS) + "\n" + "".join(",".join(str(r[c]) for c in COLUMNS) + "\n" for r in rows))
    log_in(page, live_server, django_user_model)
    page.click("#forecast-link")
    page.set_input_files("#forecast-upload input[type=file]", str(members))
    page.click("input[name=forecast-file]")

    page.wait_for_selector("#forecast-result")
    shown = page.text_content("#expected-total").strip()
    assert shown.startswith("$") and "400 patients, forecast by model huber-blend-v2" in page.text_content("#forecast-result")
    chart = page.locator("#forecast-chart svg")
    assert chart.is_visible() and chart.bounding_box()["width"] > 300
    assert page.locator("#forecast-breakdown tbody tr").count() >= 12
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)

    with page.expect_download() as download:
        page.click("#forecast-download")
    saved = tmp_path / "breakdown.csv"
    download.value.save_as(saved)
    first = next(csv.DictReader(saved.open()))
    assert (first["dimension"], first["patients"]) == ("all", "400")
    assert shown == f"${float(first['expected_total']):,.0f}"
    assert Prediction.objects.count() == 0


def test_staff_forecast_this_months_admissions(page, live_server, django_user_model):  # noqa: F811
    services.prediction_create_many(rows=random_valid_rows(25, seed=31), source="web")
    log_in(page, live_server, django_user_model)
    page.goto(live_server.url + "/admin/predictor/prediction/forecast/")
    page.click("text=This month")
    page.wait_for_selector("#forecast-result")
    assert "25 patients, forecast by model" in page.text_content("#forecast-result")
    assert page.locator("#forecast-breakdown tr.dimension-month").count() == 1
