"""Which address a request came from, for rate limits, the login lockout and the staff access audit.

``X-Forwarded-For`` is written by whoever sent the request, so it is believed only as far as the
proxies we run append to it. ``PREDICTOR_PROXY_HOPS`` says how many there are between the client
and gunicorn: 0 (the default, and a local run) ignores the header and takes the socket's peer; 1
(the Fargate stack: the Application Load Balancer appends the address it accepted the connection
from) takes the header's last entry, the one the load balancer wrote. Anything a client put in
front of that is ignored, so a spoofed header neither escapes a limit nor locks out someone else.

When the header holds fewer entries than there are hops (the load balancer's own health check
sends none) or the trusted entry is not an IP address, the peer's address is used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    text = text.strip()
    # A port may follow an IPv4 address ("1.2.3.4:5678") or a bracketed IPv6 one ("[::1]:5678").
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The client's address: the entry our outermost proxy appended to X-Forwarded-For, else the peer's."""
    peer = request.META.get("REMOTE_ADDR") or ""
    hops = settings.PREDICTOR_PROXY_HOPS
    if hops > 0:
        entries = [entry for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
        if len(entries) >= hops:
            trusted = _address(entries[-hops])
            if trusted is not None:
                return trusted
    return _address(peer) or peer
