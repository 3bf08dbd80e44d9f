"""A person's path in a real browser: fill the form, see the charge, find the row in the admin.

Drives Debian's headless Chromium (PLAYWRIGHT_CHROMIUM, default /usr/bin/chromium) with
Playwright against pytest-django's live server. Under CI (CI=true) a missing browser fails.
"""

import os
import re
from pathlib import Path

import pytest

from predictor.examples import SAMPLE_PATIENT
from predictor.models import Prediction

CHROMIUM = Path(os.environ.get("PLAYWRIGHT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"No Chromium at {CHROMIUM}: install Debian's chromium package (make test does)."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by the
    # test itself (checking rows) are synchronous and safe here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def test_person_gets_an_estimate_and_staff_find_it_in_the_admin(page, live_server, django_user_model, loaded_model):
    django_user_model.objects.create_superuser("staff", "staff@example.org", "a-long-test-password")

    page.goto(live_server.url + "/")
    page.fill("input[name=age]", str(SAMPLE_PATIENT["age"]))
    page.check(f"input[name=sex][value={SAMPLE_PATIENT['sex']}]")
    page.fill("input[name=bmi]", str(SAMPLE_PATIENT["bmi"]))
    page.fill("input[name=children]", str(SAMPLE_PATIENT["children"]))
    page.check(f"input[name=smoker][value={SAMPLE_PATIENT['smoker']}]")
    page.select_option("select[name=region]", SAMPLE_PATIENT["region"])
    page.click("button[type=submit]")

    charge_text = page.text_content("#predicted-charges").strip()
    assert re.fullmatch(r"\$\d{1,3}(,\d{3})*", charge_text)  # whole dollars on the page
    assert charge_text == "$17,076"  # tests/golden/predictions.csv: $17,076.04
    [row] = Prediction.objects.all()
    assert page.get_attribute("#predicted-charges", "data-charges") == str(row.predicted_charges)
    assert row.source == "web" and row.model_version.name == loaded_model.name

    page.reload()  # post/redirect/get: a reload shows the same result and stores nothing
    assert page.text_content("#predicted-charges").strip() == charge_text
    assert Prediction.objects.count() == 1

    page.goto(live_server.url + "/admin/predictor/prediction/")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    assert f"{row.predicted_charges:,}" in page.text_content("#result_list")  # the admin keeps cents
    assert loaded_model.name in page.text_content("#result_list")


def test_bad_input_shows_messages_in_the_browser_and_stores_nothing(page, live_server):
    page.goto(live_server.url + "/")
    page.fill("input[name=age]", "12")
    page.fill("input[name=children]", "2")
    page.click("button[type=submit]")
    assert "The age must be between 18 and 100." in page.text_content("#error-age")
    assert page.text_content("#error-bmi").strip() == "Enter the BMI."
    assert page.is_visible("#error-region")
    assert Prediction.objects.count() == 0
