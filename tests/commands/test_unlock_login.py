"""manage.py unlock_login: a locked-out staff member signs in again at once."""

from http import HTTPStatus
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command

from tests.logins import PASSWORD, fast_hashing, sign_in, signed_in, staff  # noqa: F401

LOCKED = HTTPStatus.TOO_MANY_REQUESTS


def unlock(*args: str) -> str:
    out = StringIO()
    call_command("unlock_login", *args, stdout=out)
    return out.getvalue()


def test_unlocking_a_username_lets_its_owner_sign_in_again(staff):
    for n, address in enumerate(["198.51.100.7"] * 8 + ["198.51.100.9"] * 4):
        sign_in("alice", f"wrong-{n}", peer=address)
    assert sign_in("alice", PASSWORD, peer="192.0.2.80").answer.status_code == LOCKED

    output = unlock("alice")

    # 12 failures from two addresses, and the refused right password from a third.
    assert output == "username 'alice': unlocked, removed 13 failed sign-ins from 3 addresses\n"
    assert signed_in(sign_in("alice", PASSWORD, peer="192.0.2.80"))


def test_a_locked_address_needs_ip_as_well(staff):
    for n in range(10):
        sign_in(f"guess-{n}", "wrong", peer="198.51.100.7")
    assert sign_in("alice", PASSWORD, peer="198.51.100.7").answer.status_code == LOCKED

    assert unlock("alice") == "username 'alice': unlocked, removed 1 failed sign-ins from 1 address\n"
    assert sign_in("alice", PASSWORD, peer="198.51.100.7").answer.status_code == LOCKED

    output = unlock("alice", "--ip", "198.51.100.7")

    assert output.splitlines() == [
        "username 'alice': unlocked, removed 1 failed sign-ins from 1 address",
        "address 198.51.100.7: unlocked, removed 10 failed sign-ins for 10 usernames",
    ]
    assert signed_in(sign_in("alice", PASSWORD, peer="198.51.100.7"))


def test_dry_run_says_what_it_would_remove_and_removes_nothing(staff):
    for n in range(10):
        sign_in("alice", f"wrong-{n}", peer="198.51.100.7")

    output = unlock("alice", "--ip", "198.51.100.7", "--dry-run")

    assert output.splitlines() == [
        "username 'alice': would remove 10 failed sign-ins from 1 address; nothing removed (--dry-run)",
        "address 198.51.100.7: would remove 10 failed sign-ins for 1 username; nothing removed (--dry-run)",
    ]
    assert AccessAttempt.objects.count() == 1
    assert sign_in("alice", PASSWORD, peer="192.0.2.80").answer.status_code == LOCKED


def test_nothing_to_unlock_is_said_and_changes_nothing(staff):
    sign_in("bob", "wrong", peer="198.51.100.7")

    assert unlock("alice", "--ip", "192.0.2.80").splitlines() == [
        "username 'alice': no failed sign-ins recorded, nothing to unlock",
        "address 192.0.2.80: no failed sign-ins recorded, nothing to unlock",
    ]
    assert AccessAttempt.objects.count() == 1


def test_an_ipv6_address_is_matched_in_the_form_the_lockout_stores(staff):
    for n in range(10):
        sign_in(f"guess-{n}", "wrong", peer="2001:db8::7")

    output = unlock("alice", "--ip", "2001:0DB8:0:0::7")

    assert output.splitlines()[1] == "address 2001:db8::7: unlocked, removed 10 failed sign-ins for 10 usernames"
    assert signed_in(sign_in("alice", PASSWORD, peer="2001:db8::7"))


@pytest.mark.parametrize(("args", "message"), [(["alice", "--ip", "not-an-address"], "--ip 'not-an-address' is not an IPv4 or IPv6 address"), ([" "], "Give the username")])
def test_bad_input_is_refused_and_unlocks_nothing(staff, args, message):
    for n in range(10):
        sign_in("alice", f"wrong-{n}", peer="198.51.100.7")

    with pytest.raises(CommandError, match=message):
        unlock(*args)

    assert AccessAttempt.objects.count() == 1
