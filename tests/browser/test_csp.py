"""Every page under the Content-Security-Policy, in Chromium: no violation, and the pages still work.

Each test opens its pages in Debian's headless Chromium (as tests/browser/test_pages.py) and listens for what the
policy blocks: the `securitypolicyviolation` events of every document (an init script, which Playwright
injects past the policy, forwards them to the test) and Chromium's console errors naming the policy. Every
document answered must carry the header, without 'unsafe-inline' or 'unsafe-eval'. On the way it checks that
the public form's BMI helper (static/js/bmi.js), the language switcher, Django's admin scripts, the charts'
stylesheet and Swagger UI still work.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from predictor import services
from predictor.actuals.services import actual_charges_record_many
from predictor.examples import SAMPLE_PATIENT
from predictor.models import ActualChargeChange, ModelVersion, Prediction
from tests.factories import random_valid_rows
from tests.security.test_csp import directives

pytestmark = pytest.mark.browser

REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => window.__cspViolation({
  page: location.pathname, directive: event.effectiveDirective, blocked: event.blockedURI,
  source: event.sourceFile, line: event.lineNumber, sample: event.sample,
}));
"""


class Watched:
    """A browser context whose every document, policy violation, policy console error and script error is kept."""

    def __init__(self, browser, **options) -> None:
        self.context = browser.new_context(**options)
        self.violations: list[dict] = []
        self.console: list[str] = []
        self.errors: list[str] = []
        self.documents: list[tuple[str, int, str | None]] = []
        self.context.expose_function("__cspViolation", lambda violation: self.violations.append(violation))
        self.context.add_init_script(REPORTER)
        self.context.on("response", self._response)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"{self.page.url}: {error}"))

    def _response(self, response) -> None:
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.status, response.headers.get("content-security-policy")))

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.console.append(f"{self.page.url}: {message.text}")

    def visit(self, url: str, status: int = 200):
        response = self.page.goto(url)
        assert response.status == status, (url, response.status)
        return response

    def assert_clean(self, at_least: int) -> None:
        """No violation, no policy error, no script error; every document had a strict policy."""
        self.page.wait_for_timeout(300)  # violation events are delivered asynchronously
        assert self.violations == []
        assert self.console == []
        assert self.errors == []
        missing = [(url, status) for url, status, header in self.documents if not header]
        assert missing == []
        for url, _, header in self.documents:
            assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header, url
            assert directives(header)["default-src"] == ["'none'"], url
        assert len(self.documents) >= at_least

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser):  # noqa: F811
    opened = []

    def open_context(**options) -> Watched:
        opened.append(Watched(browser, **options))
        return opened[-1]

    yield open_context
    for context in opened:
        context.close()


def fill_the_form(page, patient: dict) -> None:
    for name, value in patient.items():
        if name in ("sex", "smoker"):
            page.check(f"input[name={name}][value={value}]")
        elif name == "region":
            page.select_option("select[name=region]", value)
        else:
            page.fill(f"input[name={name}]", str(value))


def fill_colour(page, selector: str) -> str:
    """The fill a chart element is drawn with: it comes from static/css/staff.css, or it is black."""
    return page.eval_on_selector(selector, "element => getComputedStyle(element).fill")


@pytest.mark.urls("tests.csp_urls")
def test_the_public_pages_and_error_pages_report_no_violation_and_still_work(watched, live_server):
    browser_tab = watched()
    page = browser_tab.page

    # The form, and its BMI helper (static/js/bmi.js) working under the policy.
    browser_tab.visit(live_server.url + "/")
    assert page.is_visible("#bmi-helper")
    page.select_option("#bmi-units", "metric")
    page.fill("#bmi-height-cm", "170")
    page.fill("#bmi-weight-kg", "80.6")
    assert "27.9" in page.text_content("#bmi-helper-result")
    page.click("#bmi-use")
    assert page.input_value("#id_bmi") == "27.9"

    # The form with errors (400), then the result page with its explanation bars.
    page.fill("#id_age", "12")
    with page.expect_navigation():
        page.click(".prediction-form button[type=submit]")
    assert page.is_visible("#form-errors")
    fill_the_form(page, SAMPLE_PATIENT)
    with page.expect_navigation():
        page.click(".prediction-form button[type=submit]")
    assert page.text_content("#predicted-charges").strip() == "$17,076"
    bars = page.locator("#drivers svg.bar")
    assert bars.count() == 6 and bars.first.bounding_box()["width"] > 50
    assert page.eval_on_selector("#drivers .bar-adds, #drivers .bar-lowers", "e => getComputedStyle(e).fill") in (
        "rgb(179, 38, 30)", "rgb(27, 110, 58)",  # site.css: .bar-adds, .bar-lowers
    )

    # The language switcher: a form posting to /i18n/setlang/, then back.
    with page.expect_navigation():
        page.click("#language-zh-hans")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.text_content("#predicted-charges").strip() == "US$17,076"
    with page.expect_navigation():
        page.click("#language-en")
    assert page.get_attribute("html", "lang") == "en"

    # The error pages.
    browser_tab.visit(live_server.url + "/no-such-page/", status=404)
    assert page.text_content("h1").strip() == "Page not found"
    browser_tab.visit(live_server.url + "/csp-test-server-error/", status=500)
    assert page.text_content("h1").strip() == "Something went wrong"

    browser_tab.assert_clean(at_least=8)
    statuses = {status for _, status, _ in browser_tab.documents}
    assert {200, 302, 400, 404, 500} <= statuses


@pytest.mark.no_active_model
def test_the_503_page_reports_no_violation(watched, live_server, transactional_db):
    browser_tab = watched()
    browser_tab.visit(live_server.url + "/")
    fill_the_form(browser_tab.page, SAMPLE_PATIENT)
    with browser_tab.page.expect_navigation():
        browser_tab.page.click(".prediction-form button[type=submit]")
    assert "The prediction model is not available right now." in browser_tab.page.text_content("main")
    assert Prediction.objects.count() == 0
    browser_tab.assert_clean(at_least=2)
    assert browser_tab.documents[-1][1] == 503


@pytest.fixture
def history(transactional_db, django_user_model):
    """A superuser, 40 stored predictions over two months, 30 of them with actual charges recorded."""
    admin = django_user_model.objects.create_superuser("csp-staff", "staff@example.org", "a-long-test-password")
    predictions = services.prediction_create_many(rows=random_valid_rows(40, seed=12), source="web")
    Prediction.objects.filter(pk__in=[p.pk for p in predictions[:15]]).update(created_at=timezone.now() - timedelta(days=35))
    actual_charges_record_many(
        rows=[(p.pk, (p.predicted_charges * Decimal("1.1")).quantize(Decimal("0.01"))) for p in predictions[:30]],
        recorded_by=admin, channel=ActualChargeChange.Channel.ADMIN,
    )
    return admin, predictions


def test_the_staff_pages_and_the_api_docs_report_no_violation_and_still_work(watched, live_server, history):
    admin, predictions = history
    browser_tab = watched()
    page = browser_tab.page
    url = live_server.url

    browser_tab.visit(url + "/admin/login/")
    page.fill("input[name=username]", "csp-staff")
    page.fill("input[name=password]", "a-long-test-password")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.is_visible("#monitoring-headline") and page.is_visible("#forecast-link")

    # The predictions' changelist: Django's actions.js selects every row under the policy.
    browser_tab.visit(url + "/admin/predictor/prediction/")
    page.click("#action-toggle")
    assert page.locator("#result_list input.action-select:checked").count() == len(predictions)
    browser_tab.visit(url + f"/admin/predictor/prediction/{predictions[0].pk}/change/")
    assert page.is_visible("input[name=actual_charges]")
    browser_tab.visit(url + "/admin/predictor/prediction/actuals/")

    # Monitoring, its three charts drawn with static/css/staff.css.
    browser_tab.visit(url + "/admin/predictor/prediction/monitoring/")
    for chart in ("#monitoring-scatter", "#monitoring-monthly", "#monitoring-volume"):
        assert page.locator(f"{chart} svg").bounding_box()["width"] > 300, chart
    assert fill_colour(page, "#monitoring-scatter circle.inside, #monitoring-scatter circle.outside") in (
        "rgb(11, 92, 171)", "rgb(192, 57, 43)",
    )
    assert fill_colour(page, "#monitoring-volume rect.web") == "rgb(11, 92, 171)"

    # Model versions: the list, a change page and the report with its holdout chart.
    version = ModelVersion.objects.get(active=True)
    browser_tab.visit(url + "/admin/predictor/modelversion/")
    browser_tab.visit(url + f"/admin/predictor/modelversion/{version.pk}/change/")
    browser_tab.visit(url + f"/admin/predictor/modelversion/{version.pk}/report/")
    assert page.locator("#holdout-chart svg").bounding_box()["width"] > 300
    assert fill_colour(page, "#holdout-chart circle.inside") == "rgb(11, 92, 171)"

    # The other lists and forms, Django's own widgets included (the permissions' two-box selector).
    browser_tab.visit(url + "/admin/predictor/batch/")
    browser_tab.visit(url + "/admin/predictor/apitoken/")
    browser_tab.visit(url + "/admin/predictor/apitoken/add/")
    browser_tab.visit(url + "/admin/auth/user/")
    browser_tab.visit(url + f"/admin/auth/user/{admin.pk}/change/")
    assert page.is_visible("#id_user_permissions_filter")  # built by SelectFilter2.js
    page.click("#calendarlink0")  # DateTimeShortcuts.js: the date joined's calendar
    assert page.is_visible("#calendarbox0 .calendar")
    browser_tab.visit(url + "/admin/auth/group/add/")
    assert page.locator("#id_permissions_from option").count() > 20
    page.locator("#id_permissions_input").press_sequentially("can change prediction")  # SelectFilter2's filter box
    assert page.locator("#id_permissions_from option").all_text_contents() == ["Insurance charges predictor | prediction | Can change prediction"]

    # The staff batch page and the forecast page with a result and its chart.
    browser_tab.visit(url + "/admin/predictor/batch/upload/")
    assert page.is_visible("input[type=file]")
    browser_tab.visit(url + "/admin/predictor/prediction/forecast/")
    with page.expect_navigation():
        page.click("text=This month")
    assert "25 patients, forecast by model" in page.text_content("#forecast-result")
    assert page.locator("#forecast-chart svg").bounding_box()["width"] > 300
    assert fill_colour(page, "#forecast-chart rect.r90") == "rgb(219, 233, 247)"

    # The API docs: Swagger UI loads, fetches the OpenAPI document and lists the operations.
    browser_tab.visit(url + "/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 5
    # "Try it out" on the history: Swagger UI's fetch, with the staff session (connect-src 'self').
    operation = page.locator(".opblock-get", has=page.locator('[data-path="/api/v1/predictions"]'))
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    status.wait_for(timeout=15_000)
    assert status.text_content().strip() == "200"

    browser_tab.assert_clean(at_least=20)
