"""A person over the form's rate limit, in a real browser: the 429 page says when to try again,
nothing more is stored, and its link leads back to the form (Chromium through Playwright, as
tests/browser/test_pages.py). The limit is set low here on purpose: the live server shares this process's settings."""

import pytest

from predictor.examples import SAMPLE_PATIENT
from predictor.models import Prediction

pytestmark = pytest.mark.browser


def submit(page):
    page.fill("input[name=age]", str(SAMPLE_PATIENT["age"]))
    page.check(f"input[name=sex][value={SAMPLE_PATIENT['sex']}]")
    page.fill("input[name=bmi]", str(SAMPLE_PATIENT["bmi"]))
    page.fill("input[name=children]", str(SAMPLE_PATIENT["children"]))
    page.check(f"input[name=smoker][value={SAMPLE_PATIENT['smoker']}]")
    page.select_option("select[name=region]", SAMPLE_PATIENT["region"])
    with page.expect_navigation() as navigation:
        page.click(".prediction-form button[type=submit]")
    return navigation.value


def test_a_person_over_the_limit_is_told_when_to_try_again_and_nothing_is_stored(page, live_server, settings):  # noqa: F811
    settings.PREDICTOR_RATE_LIMIT_ANON = (1, 3600)
    page.goto(live_server.url + "/")
    submit(page)
    page.wait_for_selector("#predicted-charges")

    page.goto(live_server.url + "/")  # the form's page itself is not limited
    response = submit(page)

    assert response.status == 429
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 3600
    assert page.text_content("h1").strip() == "Too many estimates in a short time"
    assert f"Please try again in {retry_after} second" in page.text_content("[role=alert]")
    assert Prediction.objects.count() == 1
    page.click("text=Back to the form")
    page.wait_for_selector(".prediction-form")
