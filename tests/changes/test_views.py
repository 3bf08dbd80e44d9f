"""The staff page "Champion and challenger": figures, segments, charts, the rule, the history, and Promote."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from predictor.models import AccessLogEntry, ModelChange, ModelVersion
from tests.changes.scores import better_rows, worse_rows

pytestmark = pytest.mark.django_db
URL = reverse("admin:predictor_modelchange_comparison")


def staff(django_user_model, *codenames):
    user = django_user_model.objects.create_user("jsmith", password="a-long-test-password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def test_the_page_shows_the_figures_the_segments_the_charts_the_rule_and_the_history(client, django_user_model,
                                                                                    challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)
    client.force_login(staff(django_user_model, "view_modelchange"))

    response = client.get(URL)

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'id="comparison-verdict"' in html and "Verdict: <strong>better</strong>" in html
    assert 'id="comparison-segments"' in html and "smoker" in html
    assert html.count('class="chart chart-comparison"') == 2
    assert "Not worse: it lies wholly below the margin ($50 a patient)" in html
    assert "Challenger set" in html and "huber-blend-v1" in html  # the history holds the challenger's setting
    assert 'id="comparison-promote"' not in html  # reading is not promoting
    assert AccessLogEntry.objects.get(path=URL).action == "model_comparison"


def test_without_a_challenger_the_page_says_how_to_set_one(admin_client):
    response = admin_client.get(URL)

    assert response.status_code == HTTPStatus.OK and "There is no challenger to compare" in response.content.decode()


def test_holders_of_the_change_permission_promote_with_a_reason_recorded_with_them(client, django_user_model,
                                                                                  challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)
    user = staff(django_user_model, "view_modelchange", "change_models")
    client.force_login(user)
    assert 'id="comparison-promote"' in client.get(URL).content.decode()

    response = client.post(URL, {"reason": "lower errors"}, follow=True)

    assert "The challenger huber-blend-v1 is now the champion (verdict: better)" in response.content.decode()
    assert ModelVersion.objects.get(active=True).name == "huber-blend-v1"
    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert (change.channel, change.changed_by, change.reason) == ("promotion", user, "lower errors")
    assert change.evidence["verdict"] == "better"


def test_the_page_refuses_a_worse_challenger_by_the_same_rule(admin_client, challenger_version, active_model_version):
    worse_rows(active_model_version, challenger_version)

    page = admin_client.get(URL).content.decode()
    response = admin_client.post(URL, {"reason": "try"}, follow=True)

    assert 'id="comparison-not-promotable"' in page
    assert "was not promoted: the verdict is worse" in response.content.decode()
    assert ModelVersion.objects.get(active=True) == active_model_version


def test_a_promotion_needs_a_reason(admin_client, challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)

    response = admin_client.post(URL, {"reason": " "}, follow=True)

    assert "Give a reason" in response.content.decode()
    assert ModelVersion.objects.get(active=True) == active_model_version


def test_readers_without_the_change_permission_cannot_promote(client, django_user_model, challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)
    client.force_login(staff(django_user_model, "view_modelchange"))

    response = client.post(URL, {"reason": "mine"})

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert ModelVersion.objects.get(active=True) == active_model_version


def test_the_admin_home_links_to_the_page_for_its_readers_only(client, django_user_model):
    reader = staff(django_user_model, "view_modelchange")
    client.force_login(reader)
    assert URL in client.get(reverse("admin:index")).content.decode()

    reader.user_permissions.clear()
    client.force_login(django_user_model.objects.get(pk=reader.pk))
    assert URL not in client.get(reverse("admin:index")).content.decode()
