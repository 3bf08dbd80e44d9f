"""The accessibility and quality audit of the public pages, in Debian's Chromium (make audit; make test runs it).

On the form, the form with errors and the result page, in English and in Simplified Chinese:
axe-core (injected through Playwright) finds no serious or critical violation, and Lighthouse
12.2.3 scores at least 95 for accessibility and for best practices. The npm packages come from
package-lock.json (`make audit-deps`: npm ci into node_modules). Under CI (CI=true) anything
missing fails; elsewhere it skips. The scores are written to test-artifacts/audit.json.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from predictor import selectors, services
from predictor.examples import SAMPLE_PATIENT
from tests.browser.conftest import CHROMIUM

# A live server: the limits are raised as for any test that starts a server (tests/conftest.py).
pytestmark = [pytest.mark.browser, pytest.mark.audit, pytest.mark.usefixtures("raised_rate_limits")]

ROOT = Path(settings.BASE_DIR)
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LIGHTHOUSE_SCRIPT = ROOT / "audit" / "lighthouse.mjs"
REPORT = ROOT / "test-artifacts" / "audit.json"
LANGUAGES = {"en": "en", "zh-hans": "zh-CN"}  # our language: the Accept-Language a reader sends
PAGES = ("form", "form-with-errors", "result")
LIGHTHOUSE_MINIMUM = 0.95
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"


def _require(path: Path, what: str) -> None:
    if not path.exists():
        message = f"{what} is missing at {path}: run `make audit-deps` (npm ci)."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def result_url(live_server, transactional_db):
    def make() -> str:
        prediction = services.prediction_create(**SAMPLE_PATIENT)
        return f"{live_server.url}/result/{selectors.prediction_result_token(prediction)}/"

    return make


@pytest.fixture
def audit_page(browser):
    contexts = []

    def open_page(header: str):
        context = browser.new_context(extra_http_headers={"Accept-Language": header})
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_serious_or_critical_violation(audit_page, live_server, result_url, name, language):
    _require(AXE, "axe-core")
    page = audit_page(LANGUAGES[language])
    # An init script, not a <script> tag: Playwright injects it past the Content-Security-Policy,
    # which refuses inline scripts (tests/browser/test_csp.py).
    page.add_init_script(path=str(AXE))
    page.goto(result_url() if name == "result" else live_server.url + "/")
    if name == "form-with-errors":
        page.click(".prediction-form button[type=submit]")
        page.wait_for_selector("#form-errors")
    assert page.get_attribute("html", "lang") == ("zh-Hans" if language == "zh-hans" else "en")
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        {"id": item["id"], "impact": item["impact"], "help": item["help"], "nodes": [node["target"] for node in item["nodes"]]}
        for item in results["violations"]
        if item["impact"] in ("serious", "critical")
    ]
    assert serious == [], json.dumps(serious, ensure_ascii=False, indent=2)


def test_lighthouse_scores_at_least_95_for_accessibility_and_best_practices(live_server, result_url):
    _require(LIGHTHOUSE_SCRIPT.parent.parent / "node_modules" / "lighthouse", "lighthouse")
    if not CHROMIUM.exists():
        pytest.skip(f"No Chromium at {CHROMIUM}")
    pages = []
    for language, header in LANGUAGES.items():
        pages += [
            {"name": "form", "url": live_server.url + "/", "language": header},
            {"name": "form-with-errors", "url": live_server.url + "/", "language": header, "submit": True},
            {"name": "result", "url": result_url(), "language": header},
        ]
    environment = {**os.environ, "CHROME_PATH": str(CHROMIUM), "LIGHTHOUSE_CHROME_FLAGS": CHROME_FLAGS}
    completed = subprocess.run(
        ["node", str(LIGHTHOUSE_SCRIPT), json.dumps(pages)],
        capture_output=True, text=True, env=environment, timeout=600, cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    low = [
        result for result in results
        if result["accessibility"] < LIGHTHOUSE_MINIMUM or result["best_practices"] < LIGHTHOUSE_MINIMUM
    ]
    assert len(results) == 6
    assert low == [], json.dumps(low, ensure_ascii=False, indent=2)
