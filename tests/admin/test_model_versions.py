"""The admin's model versions: champion and challenger in the list, the page that changes them, and the
read-only record of model changes."""

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from predictor import serving
from predictor.models import ModelChange, ModelVersion

pytestmark = pytest.mark.django_db

LIST = reverse("admin:predictor_modelversion_changelist")
CHANGE = reverse("admin:predictor_modelversion_change_model")
CHANGES = reverse("admin:predictor_modelchange_changelist")


def staff_client(client, django_user_model, username: str, *codenames: str):
    user = django_user_model.objects.create_user(username, is_staff=True)  # force_login: no password to hash
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def changer(client, django_user_model):
    """Staff who may change the model (and view the versions and the record of changes)."""
    return staff_client(client, django_user_model, "grace", "view_modelversion", "change_models", "view_modelchange")


@pytest.fixture
def viewer(client, django_user_model):
    """Staff who may view the versions and the record of changes, not change them."""
    return staff_client(client, django_user_model, "linus", "view_modelversion", "view_modelchange")


def roles() -> dict[str, str]:
    return {
        version.name: "champion" if version.active else "challenger"
        for version in ModelVersion.objects.filter(active=True) | ModelVersion.objects.filter(challenger=True)
    }


def last_change() -> ModelChange:
    return ModelChange.objects.order_by("id").last()


def test_the_list_shows_which_version_is_champion_and_which_challenger(changer, loaded_model):
    serving.model_version_challenger_set(name="huber-blend-v1")
    html = changer.get(LIST).content.decode()
    assert "champion (serving)" in html and "challenger" in html
    assert 'id="change-model-link"' in html and "make champion" not in html.split("huber-blend-v1")[1].split("</tr>")[0]
    assert f"{CHANGE}?operation=challenger_clear" in html


def test_setting_the_challenger_in_the_admin_is_recorded_with_the_user(changer, loaded_model):
    response = changer.post(CHANGE, {"operation": "challenger_set", "name": "huber-blend-v1", "reason": "older data"})
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == LIST
    assert roles() == {loaded_model.name: "champion", "huber-blend-v1": "challenger"}
    change = last_change()
    assert (change.kind, change.channel, change.changed_by, change.username, change.reason) == (
        "challenger_set", "admin", changer.user, "grace", "older data"
    )
    assert "Huber-blend-v1 is now the challenger" in changer.get(LIST).content.decode()  # the admin's capfirst
    assert changer.post(CHANGE, {"operation": "challenger_clear"}).status_code == HTTPStatus.FOUND
    assert roles() == {loaded_model.name: "champion"} and last_change().kind == "challenger_clear"


def test_a_new_champion_needs_a_reason_and_is_recorded_with_it(changer, loaded_model):
    count = ModelChange.objects.count()
    response = changer.post(CHANGE, {"operation": "champion", "name": "huber-blend-v1", "reason": "  "})
    assert response.status_code == HTTPStatus.OK
    assert "Give the reason for changing the model that serves." in response.content.decode()
    assert roles() == {loaded_model.name: "champion"} and ModelChange.objects.count() == count
    response = changer.post(CHANGE, {"operation": "champion", "name": "huber-blend-v1", "reason": "roll back: v2 drifts"})
    assert response.status_code == HTTPStatus.FOUND
    assert roles() == {"huber-blend-v1": "champion"}
    change = last_change()
    assert (change.kind, change.from_version.name, change.to_version.name, change.channel, change.username, change.reason) == (
        "champion", loaded_model.name, "huber-blend-v1", "admin", "grace", "roll back: v2 drifts"
    )


@pytest.mark.parametrize(
    "form,refusal",
    [
        ({"operation": "champion", "name": "tutorial-lr-v1", "reason": "cheaper"}, "tutorial-lr-v1 answers -$15,5"),
        ({"operation": "champion", "name": "huber-blend-v1", "reason": "skip the comparison"}, "only through `manage.py promote_challenger`"),
        ({"operation": "challenger_set", "name": "huber-blend-v2"}, "huber-blend-v2 is the active model"),
        ({"operation": "challenger_set", "name": ""}, "Choose the model version."),
        ({"operation": "challenger_set", "name": "no-such-model"}, "Select a valid choice"),
        ({"operation": "rename"}, "Select a valid choice"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(changer, loaded_model, form, refusal):
    serving.model_version_challenger_set(name="huber-blend-v1")
    count = ModelChange.objects.count()
    response = changer.post(CHANGE, form)
    assert response.status_code == HTTPStatus.OK
    assert refusal in response.content.decode()
    assert roles() == {loaded_model.name: "champion", "huber-blend-v1": "challenger"} and ModelChange.objects.count() == count


def test_the_page_names_the_champion_and_the_challenger_and_takes_the_choice_from_the_link(changer, loaded_model):
    response = changer.get(CHANGE + "?operation=champion&name=huber-blend-v1")
    html = response.content.decode()
    assert f'id="champion">{loaded_model.name}<' in html and 'id="challenger">none<' in html
    form = response.context["form"]
    assert (form["operation"].value(), form["name"].value()) == ("champion", "huber-blend-v1")
    assert '<option value="huber-blend-v1" selected>' in html and '<option value="tutorial-lr-v1">' in html


def test_staff_without_the_permission_cannot_change_the_model(viewer, loaded_model):
    assert "change-model-link" not in viewer.get(LIST).content.decode()
    assert viewer.get(CHANGE).status_code == HTTPStatus.FORBIDDEN
    response = viewer.post(CHANGE, {"operation": "challenger_set", "name": "huber-blend-v1"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert roles() == {loaded_model.name: "champion"}


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get(CHANGE)
    assert response.status_code == HTTPStatus.FOUND and "/admin/login/" in response["Location"]


def test_the_record_of_changes_is_listed_and_nobody_can_add_edit_or_delete_it(admin_client, loaded_model):
    serving.model_version_challenger_set(name="huber-blend-v1", by=serving.ChangeBy(reason="compare", evidence={"n": 3}))
    change = last_change()
    html = admin_client.get(CHANGES).content.decode()
    assert "Challenger set" in html and "compare" in html and "huber-blend-v1" in html
    detail = admin_client.get(reverse("admin:predictor_modelchange_change", args=[change.pk])).content.decode()
    assert "&quot;n&quot;: 3" in detail and 'name="reason"' not in detail
    assert admin_client.get(reverse("admin:predictor_modelchange_add")).status_code == HTTPStatus.FORBIDDEN
    edit = admin_client.post(reverse("admin:predictor_modelchange_change", args=[change.pk]), {"reason": "rewritten"})
    assert edit.status_code == HTTPStatus.FORBIDDEN
    delete = admin_client.post(reverse("admin:predictor_modelchange_delete", args=[change.pk]), {"post": "yes"})
    assert delete.status_code == HTTPStatus.FORBIDDEN
    bulk = admin_client.post(CHANGES, {"action": "delete_selected", "_selected_action": [change.pk], "post": "yes"})
    assert bulk.status_code in (HTTPStatus.OK, HTTPStatus.FOUND)
    change.refresh_from_db()
    assert change.reason == "compare" and ModelChange.objects.filter(pk=change.pk).exists()


def test_the_record_of_changes_is_for_staff_with_its_view_permission(client, django_user_model, viewer):
    assert viewer.get(CHANGES).status_code == HTTPStatus.OK
    other = staff_client(client, django_user_model, "margaret", "view_modelversion")
    assert other.get(CHANGES).status_code == HTTPStatus.FORBIDDEN
