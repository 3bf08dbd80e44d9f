"""The client's address: X-Forwarded-For is believed only as far as our own proxies append to it."""

import pytest
from django.test import RequestFactory

from predictor.security.client_ip import client_ip


def request_from(peer: str, forwarded: str | None = None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=peer, **headers)


def test_without_proxies_the_header_is_ignored(settings):
    settings.PREDICTOR_PROXY_HOPS = 0
    assert client_ip(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize(
    "forwarded, expected",
    [
        ("198.51.100.7", "198.51.100.7"),  # what the load balancer appended
        ("6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a spoofed entry in front is ignored
        ("1.1.1.1, 2.2.2.2,198.51.100.7", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("198.51.100.7:40112", "198.51.100.7"),
        ("[2001:db8::1]:40112", "2001:db8::1"),
        ("", "10.0.1.5"),  # the load balancer's own health check sends none
        ("6.6.6.6, not-an-address", "10.0.1.5"),
    ],
)
def test_behind_one_load_balancer_only_its_entry_counts(settings, forwarded, expected):
    settings.PREDICTOR_PROXY_HOPS = 1
    assert client_ip(request_from("10.0.1.5", forwarded)) == expected


def test_behind_two_proxies_the_outer_ones_entry_counts(settings):
    settings.PREDICTOR_PROXY_HOPS = 2
    # client -> CDN (appends the client) -> load balancer (appends the CDN) -> gunicorn
    assert client_ip(request_from("10.0.1.5", "6.6.6.6, 198.51.100.7, 192.0.2.44")) == "198.51.100.7"
    assert client_ip(request_from("10.0.1.5", "192.0.2.44")) == "10.0.1.5"  # too few entries: the peer
