"""tokens: API tokens stored as a hash, authenticated by it, their use recorded at most once a minute.

(The API's own token tests, through HTTP, are in the API's test file.)
"""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from predictor.models import ApiToken
from predictor.security import permissions, tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("reader", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    return django_user_model.objects.get(pk=user.pk)  # fresh, without the permission cache


def test_only_the_hash_and_a_prefix_of_a_new_token_are_stored(staff):
    token, key = tokens.api_token_create(user=staff, name="claims intake")
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert stored.prefix == key[:8]
    assert key not in {str(value) for value in ApiToken.objects.values().get(pk=token.pk).values()}
    assert len(key) >= 43  # 32 random bytes, base64


def test_a_token_authenticates_its_user_and_records_the_use(staff):
    token, key = tokens.api_token_create(user=staff, name="t")
    assert tokens.api_token_authenticate(key=key) == staff
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_an_unknown_token_or_one_of_an_inactive_user_authenticates_nobody(staff):
    _, key = tokens.api_token_create(user=staff, name="t")
    assert tokens.api_token_authenticate(key=key + "x") is None
    staff.is_active = False
    staff.save()
    assert tokens.api_token_authenticate(key=key) is None


@pytest.mark.parametrize("seconds_ago,recorded_again", [(30, False), (61, True)])
def test_the_use_is_recorded_at_most_once_a_minute(staff, django_assert_num_queries, seconds_ago, recorded_again):
    token, key = tokens.api_token_create(user=staff, name="t")
    last_used = timezone.now() - timedelta(seconds=seconds_ago)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=last_used)
    with django_assert_num_queries(2 if recorded_again else 1):  # the lookup, and the UPDATE when due
        tokens.api_token_authenticate(key=key)
    token.refresh_from_db()
    assert (token.last_used_at != last_used) is recorded_again


def test_history_readers_are_active_staff_with_the_view_permission(staff, django_user_model, admin_user):
    assert permissions.history_reader(staff)
    assert permissions.history_reader(admin_user)
    assert not permissions.history_reader(django_user_model.objects.create_user("clerk", is_staff=True))  # no permission
    member = django_user_model.objects.create_user("member")
    member.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    member = django_user_model.objects.get(pk=member.pk)
    assert member.has_perm(permissions.HISTORY_PERMISSION) and not permissions.history_reader(member)  # not staff
    staff.is_active = False
    assert not permissions.history_reader(staff)
