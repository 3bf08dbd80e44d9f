"""The admin login lockout (django-axes, settings and predictor/lockout.py), through the real login form.

Ten failed sign-ins (PREDICTOR_LOGIN_FAILURE_LIMIT's default) for one username, from anywhere, lock
that username; ten from one address lock that address; for 30 minutes after the last attempt
(PREDICTOR_LOGIN_COOLOFF_MINUTES). The address is predictor.security.client_ip's, so a forged
X-Forwarded-For neither escapes the lock nor locks someone else out.
"""

import random
from datetime import timedelta
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.conf import settings

from tests.logins import LOAD_BALANCER, PASSWORD, fast_hashing, lockout_clock, sign_in, signed_in, staff  # noqa: F401

LOCKED = HTTPStatus.TOO_MANY_REQUESTS


def random_address(rng: random.Random) -> str:
    return f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def test_the_defaults_are_ten_failures_and_thirty_minutes_by_username_and_by_address():
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 30 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert settings.AXES_CLIENT_IP_CALLABLE == "predictor.security.client_ip.client_ip"


def test_twenty_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(staff):
    statuses = [sign_in("alice", f"wrong-{n}", peer="198.51.100.7").answer.status_code for n in range(20)]

    # The tenth failure is the one that locks: its own answer is already the lockout page.
    assert statuses == [HTTPStatus.OK] * 9 + [LOCKED] * 11
    right = sign_in("alice", PASSWORD, peer="198.51.100.7")
    assert right.answer.status_code == LOCKED and not signed_in(right)
    # The username is locked wherever the next attempt comes from.
    assert sign_in("alice", PASSWORD, peer="192.0.2.44").answer.status_code == LOCKED
    # Another staff member is not (that address has 21 failures, but bob signs in from his own).
    assert signed_in(sign_in("bob", PASSWORD, peer="192.0.2.45"))


def test_the_lockout_page_is_the_admins_look_says_when_to_try_again_and_who_can_unlock(staff, lockout_clock):
    for n in range(10):
        sign_in("alice", f"wrong-{n}", peer="198.51.100.7")
    lockout_clock.advance(20)  # a locked attempt 20 minutes later waits 30 minutes from itself
    before = lockout_clock.now()
    answer = sign_in("alice", PASSWORD, peer="198.51.100.7").answer
    after = lockout_clock.now()

    page = answer.content.decode()
    assert answer.status_code == LOCKED and answer["Retry-After"] == "1800"
    assert "Insurance charges: staff console" in page  # the admin's header
    assert "Sign-in locked" in page and "even with the right password" in page
    # 30 minutes after the attempt: the minute of either end of it (a minute may turn in between).
    shown = {f"{(moment + timedelta(minutes=30)):%H:%M} UTC on {(moment + timedelta(minutes=30)):%-d %B %Y}" for moment in (before, after)}
    assert any(f">{text}</time>" in page for text in shown), page
    assert "30 minutes after this attempt" in page
    assert "unlocked by an administrator" in page and "manage.py unlock_login USERNAME" in page


def test_the_lock_ends_when_the_cool_off_has_passed_and_not_before(staff, lockout_clock):
    for n in range(10):
        sign_in("alice", f"wrong-{n}", peer="198.51.100.7")

    lockout_clock.advance(29)
    assert sign_in("alice", PASSWORD, peer="198.51.100.7").answer.status_code == LOCKED
    # That refused attempt counts as a failure too, so the wait starts again from it.
    lockout_clock.advance(29)
    assert sign_in("alice", PASSWORD, peer="198.51.100.7").answer.status_code == LOCKED
    lockout_clock.advance(31)
    assert signed_in(sign_in("alice", PASSWORD, peer="198.51.100.7"))


def test_ten_failures_from_one_address_lock_the_address_for_every_username(staff):
    for n in range(10):
        sign_in(f"guess-{n}", "wrong", peer="198.51.100.7")

    assert sign_in("bob", PASSWORD, peer="198.51.100.7").answer.status_code == LOCKED
    assert signed_in(sign_in("bob", PASSWORD, peer="198.51.100.8"))


def test_the_limit_and_cool_off_come_from_the_settings(staff, settings, lockout_clock):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=5)

    statuses = [sign_in("alice", "wrong", peer="198.51.100.7").answer.status_code for _ in range(4)]

    assert statuses == [HTTPStatus.OK, HTTPStatus.OK, LOCKED, LOCKED]
    lockout_clock.advance(6)
    assert signed_in(sign_in("alice", PASSWORD, peer="198.51.100.7"))


# --- forged X-Forwarded-For ---------------------------------------------------------------------


def test_behind_the_load_balancer_random_forwarded_addresses_neither_escape_nor_lift_the_lock(staff, settings):
    settings.PREDICTOR_PROXY_HOPS = 1
    rng = random.Random(12)
    attacker = "203.0.113.9"

    # Each attempt claims a new address in front of the entry the load balancer appends.
    statuses = [
        sign_in(f"guess-{n}", "wrong", peer=LOAD_BALANCER, forwarded_for=f"{random_address(rng)}, {attacker}").answer.status_code
        for n in range(15)
    ]

    assert statuses == [HTTPStatus.OK] * 9 + [LOCKED] * 6
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {attacker}
    # The right password of a real account, with yet more forged addresses, is still refused.
    for _ in range(3):
        forged = f"{random_address(rng)}, {random_address(rng)}, {attacker}"
        assert sign_in("alice", PASSWORD, peer=LOAD_BALANCER, forwarded_for=forged).answer.status_code == LOCKED
    # Someone else behind the same load balancer is not locked.
    assert signed_in(sign_in("bob", PASSWORD, peer=LOAD_BALANCER, forwarded_for="192.0.2.80"))


def test_without_proxies_a_forwarded_header_is_ignored_and_the_peer_is_locked(staff, settings):
    settings.PREDICTOR_PROXY_HOPS = 0
    rng = random.Random(13)
    attacker = "203.0.113.9"

    statuses = [
        sign_in(f"guess-{n}", "wrong", peer=attacker, forwarded_for=random_address(rng)).answer.status_code
        for n in range(12)
    ]

    assert statuses == [HTTPStatus.OK] * 9 + [LOCKED] * 3
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {attacker}
    assert sign_in("alice", PASSWORD, peer=attacker, forwarded_for="192.0.2.80").answer.status_code == LOCKED


@pytest.mark.parametrize("hops", [0, 1])
def test_a_forged_header_naming_someone_elses_address_does_not_lock_them_out(staff, settings, hops):
    settings.PREDICTOR_PROXY_HOPS = hops
    victim, attacker = "192.0.2.80", "203.0.113.9"

    def from_address(address: str, claimed: str | None = None) -> dict:
        """What gunicorn sees of a client at `address` whose request claims `claimed` in X-Forwarded-For."""
        if hops == 0:
            return {"peer": address, "forwarded_for": claimed}
        return {"peer": LOAD_BALANCER, "forwarded_for": f"{claimed}, {address}" if claimed else address}

    statuses = [sign_in(f"guess-{n}", "wrong", **from_address(attacker, claimed=victim)).answer.status_code for n in range(12)]

    assert statuses == [HTTPStatus.OK] * 9 + [LOCKED] * 3  # the attacker's own address is locked
    assert not AccessAttempt.objects.filter(ip_address=victim).exists()
    assert signed_in(sign_in("alice", PASSWORD, **from_address(victim)))
