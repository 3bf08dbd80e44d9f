"""The admin login lockout in a real browser: ten wrong passwords typed into the sign-in page, the
lockout page in the admin's look, then unlock_login and a sign-in that works (Chromium through
Playwright, as tests/browser/test_pages.py)."""

import os

import pytest
from django.core.management import call_command

from tests.logins import PASSWORD, fast_hashing, staff  # noqa: F401 (the fixtures)

pytestmark = pytest.mark.browser
SCREENSHOT = os.environ.get("LOCKOUT_SCREENSHOT")  # a path: keep a picture of the page, to look at


def type_password(page, password: str):
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")


def test_a_locked_out_staff_member_sees_when_to_try_again_and_is_let_in_once_unlocked(page, live_server, staff):  # noqa: F811
    page.goto(live_server.url + "/admin/")
    for n in range(9):
        type_password(page, f"wrong-{n}")
        assert page.locator(".errornote").is_visible()  # Django's "enter a correct username and password"

    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        type_password(page, "wrong-9")

    assert answer.value.status == 429 and answer.value.headers["retry-after"] == "1800"
    assert page.title().startswith("Sign-in locked")
    assert page.locator("#site-name").inner_text() == "Insurance charges: staff console"
    assert page.locator("#lockout-message").is_visible()
    assert "Try again after" in page.locator("#lockout-until").inner_text()
    assert "unlock_login USERNAME" in page.locator("#lockout-unlock").inner_text()
    # The admin's own style sheet is applied: its header is not the browser's default white.
    assert page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)

    page.click("text=Back to the sign-in page")
    type_password(page, PASSWORD)
    assert page.title().startswith("Sign-in locked")

    call_command("unlock_login", "alice", "--ip", "127.0.0.1")
    page.click("text=Back to the sign-in page")
    type_password(page, PASSWORD)
    page.wait_for_selector("#user-tools")
    assert page.url == live_server.url + "/admin/"
