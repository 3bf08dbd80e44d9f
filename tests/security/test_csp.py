"""The Content-Security-Policy: on every response, tight, and never relaxed by 'unsafe-inline' or 'unsafe-eval'.

Fast checks here, through Django's test client: every URL pattern answers with the header (as a superuser and
anonymously), the error pages too, no HTML we serve holds what the policy would block (inline scripts, style
blocks and attributes, event-handler attributes), and PREDICTOR_CSP_REPORT_URI. tests/browser/test_csp.py shows
in Chromium that no page reports a violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from http import HTTPStatus
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver, resolve

from predictor import selectors, services
from predictor.actuals.services import actual_charges_record
from predictor.examples import SAMPLE_PATIENT
from predictor.models import ActualChargeChange, ModelVersion
from predictor.security import tokens
from tests.factories import random_valid_rows
from tests.test_settings import PRODUCTION, start

HEADER = "Content-Security-Policy"
PROJECT_DIR = Path(settings.BASE_DIR)


def directives(header: str) -> dict[str, list[str]]:
    """A policy as {directive: [sources]}."""
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


def policy_problems(response) -> list[str]:
    """What is wrong with a response's policy: missing, or allowing inline code or eval."""
    header = response.headers.get(HEADER)
    if not header:
        return ["no Content-Security-Policy header"]
    return [word for word in ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'") if word in header]


class InlineCode(HTMLParser):
    """Collects what a policy without 'unsafe-inline' blocks in an HTML page."""

    DATA_SCRIPTS = {"application/json", "application/ld+json"}  # data blocks, never run

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "style":
            self.found.append("<style> block")
        if tag == "script" and "src" not in attributes and attributes.get("type") not in self.DATA_SCRIPTS:
            self.found.append("inline <script>")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style attribute on <{tag}>: {value}")
            elif name.startswith("on"):
                self.found.append(f"{name} handler on <{tag}>")
            elif name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in <{tag} {name}>")

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


def routes(patterns, prefix: str = "") -> Iterator[str]:
    """Every URL pattern of the project, as its full route (what ResolverMatch.route says)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern).removeprefix("^")  # as ResolverMatch.route writes it


def concrete(route: str, values: dict[str, str]) -> str:
    """A path that the route matches, each parameter taken from ``values`` by name."""
    def value(name: str) -> str:
        if name not in values:
            raise AssertionError(f"{route}: give the test a value for <{name}>")
        return values[name]

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda match: value(match[1]), route)  # a regex's groups
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda match: value(match[1]), path)  # a route's parameters
    return "/" + path.replace("^", "").replace("$", "")


@pytest.fixture
def stored(db, django_user_model):
    """One of each thing the admin lists: a prediction with actual charges, a batch, a token, a group, a user."""
    user = django_user_model.objects.create_superuser("csp-admin", "csp@example.org", "a-long-test-password")
    prediction = services.prediction_create(**SAMPLE_PATIENT)
    actual_charges_record(
        prediction_id=prediction.pk, actual_charges="16884.92", recorded_by=user, channel=ActualChargeChange.Channel.ADMIN
    )
    batch, _ = services.batch_create(columns=services.prediction_columns(random_valid_rows(3, seed=5)), file_name="members.csv", created_by=user)
    token, _ = tokens.api_token_create(user=user, name="csp")
    group = Group.objects.create(name="clerks")
    objects = {
        "prediction": prediction, "modelversion": ModelVersion.objects.get(active=True), "batch": batch,
        "apitoken": token, "group": group, "user": user,
    }
    return user, objects


def route_values(route: str, objects: dict) -> dict[str, str]:
    """Real ids for a route's parameters: the admin's object of that model, the stored prediction elsewhere."""
    model = re.match(r"admin/\w+/(\w+)/", route)
    prediction = objects["prediction"]
    return {
        "object_id": str(objects[model[1]].pk if model and model[1] in objects else prediction.pk),
        "id": str(objects["user"].pk),
        "pk": str(objects["modelversion"].pk),
        "content_type_id": str(ContentType.objects.get_for_model(prediction).pk),
        "app_label": "predictor",
        "url": "no-such-page/",
        "prediction_id": str(prediction.pk),
        "token": selectors.prediction_result_token(prediction),
    }


def test_every_url_pattern_answers_with_the_policy_and_its_pages_hold_no_inline_code(client, stored):
    user, objects = stored
    seen = {}
    for route in dict.fromkeys(routes(get_resolver().url_patterns)):
        path = concrete(route, route_values(route, objects))
        assert resolve(path).route == route, f"{path} does not reach {route}"
        for who in ("anonymous", "superuser"):
            if who == "superuser":
                client.force_login(user)
            else:
                client.logout()
            response = client.get(path)
            seen[route] = response.status_code
            assert response.status_code < 500, (who, path, response.status_code)
            assert policy_problems(response) == [], (who, path)
            if response.headers.get("Content-Type", "").startswith("text/html"):
                assert inline_code(response.content.decode()) == [], (who, path)
    # The walk reached the real pages, not only redirects to the login page.
    assert seen["admin/predictor/prediction/<path:object_id>/change/"] == HTTPStatus.OK
    assert seen["admin/predictor/prediction/monitoring/"] == HTTPStatus.OK
    assert seen["admin/predictor/modelversion/<int:pk>/report/"] == HTTPStatus.OK
    assert seen["api/v1/docs"] == HTTPStatus.OK
    assert seen["result/<str:token>/"] == HTTPStatus.OK
    assert len(seen) >= 60


def test_the_policy_allows_only_this_site_and_no_inline_code(client, db):
    policy = directives(client.get("/").headers[HEADER])

    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'"]
    assert policy["font-src"] == policy["connect-src"] == policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == policy["base-uri"] == policy["object-src"] == ["'none'"]
    assert "report-uri" not in policy


def test_the_api_docs_alone_may_show_data_images(client, db):
    # Swagger UI's stylesheet draws icons as data: images; nothing else needs them.
    assert directives(client.get("/api/v1/docs").headers[HEADER])["img-src"] == ["'self'", "data:"]
    assert directives(client.get("/api/v1/openapi.json").headers[HEADER])["img-src"] == ["'self'", "data:"]


# ---------------------------------------------------------------------------
# Error pages


def test_a_bad_request_answers_400_with_the_policy(client, db):
    response = client.get("/", headers={"host": "not-an-allowed-host.example"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert policy_problems(response) == []


def test_the_form_with_errors_answers_400_with_the_policy(client, db):
    response = client.post("/", {"age": "12"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert policy_problems(response) == [] and inline_code(response.content.decode()) == []


def test_a_missing_page_answers_404_with_the_policy(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert policy_problems(response) == [] and inline_code(response.content.decode()) == []


@pytest.mark.urls("tests.csp_urls")
def test_a_server_error_answers_500_with_the_policy(client, db):
    client.raise_request_exception = False

    response = client.get("/csp-test-server-error/")

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert "Something went wrong" in response.content.decode()  # templates/500.html
    assert policy_problems(response) == [] and inline_code(response.content.decode()) == []


@pytest.mark.no_active_model
def test_an_unavailable_model_answers_503_with_the_policy(client, db, valid_inputs):
    response = client.post("/", valid_inputs)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert policy_problems(response) == [] and inline_code(response.content.decode()) == []


# ---------------------------------------------------------------------------
# What we write: templates and the HTML our Python makes


# The technical file as a standalone HTML file (--out, or the staff page's download, sent as an attachment):
# it must print and read offline, with nothing from the site, so its style travels inside it. The site never
# renders it as a page.
STANDALONE = {"templates/technical_file/document.html"}


def test_our_templates_hold_no_inline_script_style_or_handler():
    found = {}
    for template in sorted((PROJECT_DIR / "templates").rglob("*.html")):
        if str(template.relative_to(PROJECT_DIR)) in STANDALONE:
            assert "<script" not in template.read_text()  # style only
            continue
        text = re.sub(r"\{[%#].*?[%#]\}|\{\{.*?\}\}", "x", template.read_text(), flags=re.S)
        problems = inline_code(text)
        if problems:
            found[str(template.relative_to(PROJECT_DIR))] = problems
    assert found == {}


def test_our_python_writes_no_style_script_or_handler_into_html():
    markup = re.compile(r"<style|<script|\sstyle=|\son[a-z]+=", re.I)
    found = {
        f"{path.relative_to(PROJECT_DIR)}:{number}": line.strip()
        for path in sorted((PROJECT_DIR / "predictor").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if markup.search(line)
    }
    assert found == {}


def test_no_admin_hides_both_action_bars():
    # Django's changelist then adds an inline <style> block, which the policy blocks.
    hidden = [type(model_admin).__name__ for model_admin in admin.site._registry.values()
              if not model_admin.actions_on_top and not model_admin.actions_on_bottom]
    assert hidden == []


# ---------------------------------------------------------------------------
# PREDICTOR_CSP_REPORT_URI

REPORT_PROBE = """
import django
django.setup()
from django.conf import settings
print(settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].get("report-uri"))
"""


@pytest.mark.parametrize("uri", ["https://reports.example.org/csp", "/csp-reports/"])
def test_a_report_uri_is_added_to_the_policy(tmp_path, uri):
    result = start(tmp_path, "-c", REPORT_PROBE, **PRODUCTION, PREDICTOR_CSP_REPORT_URI=uri)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str([uri])


@pytest.mark.parametrize(
    "uri", ["reports.example.org", "https://a.example/; script-src *", "/x 'unsafe-inline'", "ftp://a.example/"]
)
def test_a_report_uri_that_is_not_an_address_stops_the_start_naming_it(tmp_path, uri):
    result = start(tmp_path, "-c", REPORT_PROBE, **PRODUCTION, PREDICTOR_CSP_REPORT_URI=uri)

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "PREDICTOR_CSP_REPORT_URI" in message


def test_the_report_uri_reaches_the_header(client, db, settings):
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "report-uri": ["/csp-reports/"]}
    }

    assert directives(client.get("/").headers[HEADER])["report-uri"] == ["/csp-reports/"]
