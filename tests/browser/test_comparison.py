"""The "Champion and challenger" page in a real browser: its charts drawn by static/css/staff.css, no policy
violation, and the Promote button promoting with a reason."""

import pytest

from predictor import serving
from predictor.models import ModelChange, ModelVersion
from tests.browser.test_csp import fill_colour
from tests.browser.test_csp import watched  # noqa: F401 (the fixture)
from tests.changes.scores import better_rows

pytestmark = pytest.mark.browser


def test_the_page_draws_its_charts_and_promotes_by_the_rule(watched, live_server, transactional_db, django_user_model):  # noqa: F811
    champion, _ = serving.model_version_activate_if_none()
    challenger = serving.model_version_challenger_set(name="huber-blend-v1")
    better_rows(champion, challenger)
    django_user_model.objects.create_superuser("chief", "chief@example.org", "a-long-test-password")
    tab = watched()
    page = tab.page

    tab.visit(live_server.url + "/admin/login/?next=/admin/predictor/modelchange/comparison/")
    page.fill("input[name=username]", "chief")
    page.fill("input[name=password]", "a-long-test-password")
    with page.expect_navigation():
        page.click("input[type=submit]")

    assert "Verdict: better" in page.text_content("#comparison-verdict")
    assert page.locator("#comparison-differences-chart svg").bounding_box()["width"] > 300
    assert page.locator("#comparison-segments-chart svg").bounding_box()["width"] > 300
    assert fill_colour(page, "#comparison-differences-chart rect.better") == "rgb(30, 132, 73)"
    assert fill_colour(page, "#comparison-segments-chart circle.segment") == "rgb(11, 92, 171)"
    page.fill("#comparison-promote textarea[name=reason]", "lower errors on the year's actual charges")
    with page.expect_navigation():
        page.click("#comparison-promote input[type=submit]")

    assert "The challenger huber-blend-v1 is now the champion" in page.text_content(".messagelist")
    assert ModelVersion.objects.get(active=True).name == "huber-blend-v1"
    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert change.username == "chief" and change.channel == "promotion"
    assert "lower errors" in page.text_content("#comparison-history")
    tab.assert_clean(at_least=3)
