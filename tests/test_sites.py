"""sites: every staff page is mounted under /admin/ and guarded the same way, in the admin's look."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from predictor.sites import STAFF_PAGES
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


def url_of(page, version) -> str:
    """The page's URL; a page of one object gets the model version, or a prediction of it."""
    if "prediction/<int:pk>" in page.route:
        return reverse(f"admin:{page.name}", kwargs={"pk": PredictionFactory(model_version=version).pk})
    return reverse(f"admin:{page.name}", kwargs={"pk": version.pk} if "<int:pk>" in page.route else None)


def user_with(django_user_model, username: str, *, staff: bool, permission: str | None):
    user = django_user_model.objects.create_user(username, password="a-long-test-password", is_staff=staff)
    if permission:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def test_there_are_the_nine_staff_pages_each_under_the_admin():
    assert {page.name for page in STAFF_PAGES} == {
        "predictor_prediction_monitoring", "predictor_prediction_forecast", "predictor_prediction_actuals",
        "predictor_batch_upload", "predictor_modelversion_report", "predictor_modelversion_technical_file",
        "predictor_modelchange_comparison", "predictor_prediction_override", "predictor_serving",
    }
    assert all(not page.route.startswith("/") for page in STAFF_PAGES)


@pytest.mark.parametrize("page", STAFF_PAGES, ids=lambda page: page.name)
def test_anonymous_visitors_are_sent_to_the_admin_sign_in(client, page, active_model_version):
    url = url_of(page, active_model_version)
    assert url.startswith("/admin/")

    response = client.get(url)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(f"{reverse('admin:login')}?next={url}")


@pytest.mark.parametrize("page", STAFF_PAGES, ids=lambda page: page.name)
def test_staff_without_the_pages_permission_and_users_who_are_not_staff_get_403(client, page, active_model_version,
                                                                                django_user_model):
    url = url_of(page, active_model_version)
    others = [
        user_with(django_user_model, "clerk", staff=True, permission=None),
        user_with(django_user_model, "member", staff=False, permission=page.permission),
    ]
    for user in others:
        client.force_login(user)
        assert client.get(url).status_code == HTTPStatus.FORBIDDEN, user.username


@pytest.mark.parametrize("page", STAFF_PAGES, ids=lambda page: page.name)
def test_staff_with_the_pages_permission_get_it_in_the_admins_look_never_cached(client, page, active_model_version,
                                                                               django_user_model):
    client.force_login(user_with(django_user_model, "reader", staff=True, permission=page.permission))

    response = client.get(url_of(page, active_model_version))

    # Monitoring answers 503 on a database it cannot aggregate in; every page here is PostgreSQL's.
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert 'id="site-name"' in html and "Insurance charges: staff console" in html  # the admin's header
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
