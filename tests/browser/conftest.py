"""The browser's fixtures: Debian's headless Chromium (PLAYWRIGHT_CHROMIUM, default /usr/bin/chromium), driven by
Playwright against pytest-django's live server. Under CI (CI=true) a missing browser fails."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("PLAYWRIGHT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


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
