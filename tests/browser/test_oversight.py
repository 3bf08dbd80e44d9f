"""Human oversight in a real browser: staff override an estimate on a prediction's page and the person's result
page shows the reviewed charge apart from the estimate; staff pause the service, the form answers 503 and
/healthz still 200, then resume it; the admin's records show the override, the pause and the resume."""

import json
from decimal import Decimal

import pytest

from predictor.examples import SAMPLE_PATIENT
from predictor.models import ChargeOverride, Prediction, ServingChange
from tests.logins import PASSWORD, fast_hashing, staff  # noqa: F401 (the fixtures)

# A live server: the limits are raised as for any test that starts a server (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("raised_rate_limits")]


def submit_the_form(page, base: str):
    page.goto(base + "/")
    page.fill("input[name=age]", str(SAMPLE_PATIENT["age"]))
    page.check(f"input[name=sex][value={SAMPLE_PATIENT['sex']}]")
    page.fill("input[name=bmi]", str(SAMPLE_PATIENT["bmi"]))
    page.fill("input[name=children]", str(SAMPLE_PATIENT["children"]))
    page.check(f"input[name=smoker][value={SAMPLE_PATIENT['smoker']}]")
    page.select_option("select[name=region]", SAMPLE_PATIENT["region"])
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.click(".prediction-form button[type=submit]")
    return answer.value


def sign_in(page, base: str):
    page.goto(base + "/admin/login/?next=/admin/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def test_staff_override_an_estimate_and_the_result_page_shows_both_figures(browser, live_server, staff, loaded_model):  # noqa: F811
    person = browser.new_context().new_page()
    submit_the_form(person, live_server.url)
    estimate = person.get_attribute("#predicted-charges", "data-charges")
    [prediction] = Prediction.objects.all()
    assert person.locator("#reviewed-charge").count() == 0

    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url)
    desk.goto(f"{live_server.url}/admin/predictor/prediction/{prediction.pk}/change/")
    desk.click("#override-link")
    assert desk.text_content("#override-estimate").strip() == f"${estimate}"
    desk.fill("#id_reviewed_charges", "-100")
    desk.click("#override-submit")
    assert "Nothing was recorded" in desk.text_content("#override-errors")
    assert "cannot be negative" in desk.text_content(".errorlist") and "Give the reason" in desk.text_content("#override-form")
    assert not ChargeOverride.objects.exists()

    desk.fill("#id_reviewed_charges", "21000")
    desk.fill("#id_reason", "Reviewed with the claims history")
    desk.click("#override-submit")
    assert "the reviewed charge $21,000.00 is recorded" in desk.text_content(".messagelist")
    assert "Reviewed with the claims history" in desk.text_content("#chargeoverride_set-group, .inline-group")

    person.reload()
    assert person.get_attribute("#reviewed-charge", "data-charges") == "21000.00"
    assert "Reviewed charge: $21,000 a year." in person.text_content("#reviewed-charge")
    assert person.get_attribute("#predicted-charges", "data-charges") == estimate  # the model's estimate, kept
    assert Prediction.objects.get().predicted_charges == Decimal(estimate)

    desk.goto(f"{live_server.url}/admin/predictor/chargeoverride/")
    assert "Reviewed with the claims history" in desk.text_content("#result_list")


def test_staff_pause_the_service_the_form_answers_503_and_healthz_200_then_resume(browser, live_server, staff, loaded_model):  # noqa: F811
    desk = browser.new_context().new_page()
    sign_in(desk, live_server.url)
    desk.goto(live_server.url + "/admin/predictor/servingchange/")
    desk.click("#serving-link")
    assert desk.get_attribute("#serving-state", "data-state") == "running"
    desk.fill("#id_reason", "Investigating a drift alert")
    desk.click("#serving-pause")
    assert desk.get_attribute("#serving-state", "data-state") == "paused"

    person = browser.new_context().new_page()
    answer = submit_the_form(person, live_server.url)
    assert answer.status == 503
    assert "Our staff have paused the estimates for now" in person.text_content("main")
    assert not Prediction.objects.exists()
    health = person.goto(live_server.url + "/healthz")
    assert health.status == 200 and json.loads(person.text_content("body"))["serving"] == "paused"

    desk.click("#serving-resume")
    assert desk.get_attribute("#serving-state", "data-state") == "running"
    assert submit_the_form(person, live_server.url).status == 302
    assert Prediction.objects.count() == 1

    record = desk.text_content("#serving-record")
    assert "Paused" in record and "Resumed" in record and "Investigating a drift alert" in record
    assert list(ServingChange.objects.order_by("id").values_list("kind", "username")) == [("pause", "alice"), ("resume", "alice")]
