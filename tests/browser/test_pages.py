"""A person's path in a real browser: fill the form, see the charge, find the row in the admin.

Drives Debian's headless Chromium (PLAYWRIGHT_CHROMIUM, default /usr/bin/chromium) with
Playwright against pytest-django's live server. Under CI (CI=true) a missing browser fails.
"""

import re

import pytest

from predictor.examples import SAMPLE_PATIENT
from predictor.models import Prediction

# A live server: the limits are raised as for any test that starts a server (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("raised_rate_limits")]


def test_person_gets_an_estimate_and_staff_find_it_in_the_admin(page, live_server, django_user_model, loaded_model):
    django_user_model.objects.create_superuser("staff", "staff@example.org", "a-long-test-password")

    page.goto(live_server.url + "/")
    page.fill("input[name=age]", str(SAMPLE_PATIENT["age"]))
    page.check(f"input[name=sex][value={SAMPLE_PATIENT['sex']}]")
    page.fill("input[name=bmi]", str(SAMPLE_PATIENT["bmi"]))
    page.fill("input[name=children]", str(SAMPLE_PATIENT["children"]))
    page.check(f"input[name=smoker][value={SAMPLE_PATIENT['smoker']}]")
    page.select_option("select[name=region]", SAMPLE_PATIENT["region"])
    page.click(".prediction-form button[type=submit]")

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
    page.click(".prediction-form button[type=submit]")
    assert "The age must be between 18 and 100." in page.text_content("#error-age")
    assert page.text_content("#error-bmi").strip() == "Enter the BMI."
    assert page.is_visible("#error-region")
    assert Prediction.objects.count() == 0


def tab_to(page, selector: str, presses: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus (the keyboard alone)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_form_can_be_completed_with_the_keyboard_alone(page, live_server):
    page.goto(live_server.url + "/")
    tab_to(page, "#id_age")
    page.keyboard.type("19")
    tab_to(page, "input[name=sex]")
    page.keyboard.press("Space")  # the first choice: female
    tab_to(page, "#id_bmi")
    page.keyboard.type("27.9")
    tab_to(page, "#id_children")
    page.keyboard.type("0")
    tab_to(page, "input[name=smoker]")
    page.keyboard.press("Space")  # the first choice: yes
    tab_to(page, "#id_region")
    for _ in range(4):  # "", northeast, northwest, southeast, southwest
        page.keyboard.press("ArrowDown")
    assert page.input_value("#id_region") == "southwest"
    tab_to(page, ".prediction-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#predicted-charges")
    assert page.text_content("#predicted-charges").strip() == "$17,076"
    assert Prediction.objects.get().smoker == "yes"


@pytest.mark.parametrize(
    "units,fields,bmi",
    [
        ("metric", {"#bmi-height-cm": "170", "#bmi-weight-kg": "80.6"}, "27.9"),
        ("imperial", {"#bmi-height-ft": "5", "#bmi-height-in": "7", "#bmi-weight-lb": "178"}, "27.9"),
    ],
)
def test_the_bmi_helper_fills_the_bmi_and_only_the_bmi_is_sent(page, live_server, units, fields, bmi):
    page.goto(live_server.url + "/")
    assert page.is_visible("#bmi-helper")
    page.select_option("#bmi-units", units)
    for selector, value in fields.items():
        page.fill(selector, value)
    assert bmi in page.text_content("#bmi-helper-result")
    page.click("#bmi-use")
    assert page.input_value("#id_bmi") == bmi
    sent = []
    page.on("request", lambda request: sent.append(request.post_data) if request.method == "POST" else None)
    page.fill("#id_age", "19")
    page.check("input[name=sex][value=female]")
    page.fill("#id_children", "0")
    page.check("input[name=smoker][value=no]")
    page.select_option("#id_region", "southwest")
    page.click(".prediction-form button[type=submit]")
    page.wait_for_selector("#predicted-charges")
    assert "bmi=27.9" in sent[0] and "height" not in sent[0] and "weight" not in sent[0]
    assert float(Prediction.objects.get().bmi) == 27.9


def test_without_javascript_the_helper_stays_hidden_and_the_form_works(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        assert not page.is_visible("#bmi-helper")
        for name, value in SAMPLE_PATIENT.items():
            if name in ("sex", "smoker"):
                page.check(f"input[name={name}][value={value}]")
            elif name == "region":
                page.select_option("select[name=region]", value)
            else:
                page.fill(f"input[name={name}]", str(value))
        page.click(".prediction-form button[type=submit]")
        assert page.text_content("#predicted-charges").strip() == "$17,076"
    finally:
        context.close()


def test_a_reader_switches_to_chinese_and_the_choice_stays(page, live_server):
    page.goto(live_server.url + "/")
    page.click("#language-zh-hans")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    page.goto(live_server.url + "/")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.text_content("h1").strip() == "估算每年的医疗保险费用"
    page.click("#language-en")
    assert page.get_attribute("html", "lang") == "en"
