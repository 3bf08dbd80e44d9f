"""Rate limits shared by every gunicorn worker and every Fargate task: the counts live in the database.

**What is limited** (the limits are settings, from ``PREDICTOR_RATE_LIMIT_ANON`` and
``PREDICTOR_RATE_LIMIT_TOKEN``, each ``N/s``, ``N/m``, ``N/h`` or ``N/d``):

- ``anon:ADDRESS``: the public form's POST and the anonymous ``POST /api/v1/predictions``
  together, per client address as ``predictor.security.client_ip`` gives it (an IPv6 address counts by
  its /64, the block one subscriber gets, so rotating through it gains nothing);
- ``token:SHA256`` (per API token) or ``user:ID`` (a staff user with an admin session): every
  API operation they call, together.

**The check is one statement** (``rate_limit_hit``): an ``INSERT ... ON CONFLICT (key) DO UPDATE
... RETURNING`` that opens the client's window or counts one more request in it and returns the
count. PostgreSQL takes the row's lock for the upsert, so requests of one client from any number
of processes are counted one after another and exactly ``limit`` of them are admitted per window
(``tests/security/test_ratelimit.py`` checks it with concurrent connections). In autocommit, as Django
serves requests, the statement is its own transaction, and the table is UNLOGGED (migration
0005), so the commit waits for no WAL flush.

**Fixed windows**, aligned on multiples of the period since the Unix epoch (a ``60/m`` limit counts
from :00 to :59 of each minute). A refusal says how long until the window ends (``Retry-After``,
in whole seconds). A client may send up to twice the limit across a boundary (the end of one
window and the start of the next); GCRA would smooth that, at the price of a less obvious count
and Retry-After; over any run of whole windows the bound is exact, which is what
``bench/limits.py`` measures. A window that has ended is replaced by a new one, whatever its
period, so changing a limit takes effect at the end of the current window. The time is the app
server's clock (synchronised on Fargate); a request whose clock is a little behind another
task's is counted in the newer window rather than reopening an old one.

**Why not django-ratelimit with Django's DatabaseCache**: the cache's ``incr()`` is a ``get``
then a ``set``, so two workers reading the same count both admit a request (the limit leaks
under exactly the load it exists for), and every count is a durable, WAL-logged write. There is
no Redis in the stack; PostgreSQL is already there, and one upsert on a small UNLOGGED table
takes about 0.2 ms (2,000 checks in a row, Django's cursor included, on this project's 2-core machine).

**The table stays small**: a row is one client's current window. Rows whose window has ended
are deleted in batches of ``PRUNE_BATCH`` by ``rate_limit_prune``, which a check that opens a
new window runs with probability ``PRUNE_CHANCE``; that removes about ten rows for every window
opened, so the table holds roughly the clients seen within the longest period, never a history.
Deleting an ended window loses nothing: the client's next request opens a new one anyway.

**A prediction's count rides on its INSERT** (``Charge``, ``hit_statement``): the form and
``POST /api/v1/predictions`` do not count a request when it arrives but give it a ``Charge``;
the service that stores a valid one-row prediction counts it in the same statement as the INSERT
(``WITH hit AS (upsert) INSERT ... SELECT ... FROM hit WHERE hits <= limit``), so a prediction
costs one round trip, not two, and a request over the limit stores nothing. A request that ends
any other way (a bad input, a batch, an error) is counted when it ends (``Charge.check``), and over
the limit its answer is replaced by the 429: every request is counted exactly once, and the 429
comes first whatever else was wrong, as when the count came first. Other API operations count
when they arrive.

When the database cannot be reached the check raises ``django.db.Error``; the form and the API
answer it with the 503 a prediction gets when the database is down.
"""

from __future__ import annotations

import ipaddress
import math
import random
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.http import HttpRequest

from .client_ip import client_ip

# Of the checks that open a window, the share that also deletes ended windows, and how many at most.
PRUNE_CHANCE = 0.01
PRUNE_BATCH = 1000

# The one statement of a check. Every SET expression reads the row as it was before this request;
# a count stops at limit + 1, so it cannot overflow whatever a client sends.
_HIT = """
INSERT INTO predictor_rate_limit AS r (key, window_start, window_end, hits) VALUES (%s, %s, %s, 1)
ON CONFLICT (key) DO UPDATE SET
    window_start = CASE WHEN r.window_end <= %s THEN excluded.window_start ELSE r.window_start END,
    window_end = CASE WHEN r.window_end <= %s THEN excluded.window_end ELSE r.window_end END,
    hits = CASE WHEN r.window_end <= %s THEN 1 WHEN r.hits > %s THEN r.hits ELSE r.hits + 1 END
RETURNING hits, window_end
"""

# The outer condition is checked again on a row a concurrent check just moved to a new window
# (PostgreSQL re-reads it after waiting for its lock), so such a row is never deleted.
_PRUNE = """
DELETE FROM predictor_rate_limit WHERE window_end <= %s AND key IN (
    SELECT key FROM predictor_rate_limit WHERE window_end <= %s LIMIT %s
)
"""


@dataclass(frozen=True)
class Decision:
    """One counted request: whether it is within the limit, the window's count, and the seconds left in the window."""

    allowed: bool
    hits: int
    retry_after: int


class RateLimited(Exception):
    """A request over its limit; ``retry_after`` is the whole seconds until the client's window ends."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"rate limit reached; retry after {retry_after} s")


def rate_limit_hit(*, key: str, rate: tuple[int, int], now: float | None = None) -> Decision:
    """Count one request of ``key`` against ``rate`` (requests, seconds) in one atomic statement."""
    limit, period = rate
    now = time.time() if now is None else now
    window_start = math.floor(now / period) * period
    with connection.cursor() as cursor:
        cursor.execute(_HIT, [key, window_start, window_start + period, now, now, now, limit])
        hits, window_end = cursor.fetchone()
    return _decided(hits, window_end, limit, now)


def _decided(hits: int, window_end: float, limit: int, now: float) -> Decision:
    """The Decision of a count the statement returned; a count that opened a window may prune ended ones."""
    if hits == 1 and random.random() < PRUNE_CHANCE:
        rate_limit_prune(now=now)
    return Decision(allowed=hits <= limit, hits=hits, retry_after=max(1, math.ceil(window_end - now)))


@dataclass
class Charge:
    """One request's count, made at most once: in the statement that stores its prediction (``hit_statement``), or by ``check``."""

    key: str
    rate: tuple[int, int]
    decision: Decision | None = None

    def counted(self, *, hits: int, window_end: float, now: float) -> Decision:
        """Take the count a statement made (``hit_statement``); raise RateLimited if it is over the limit."""
        self.decision = _decided(hits, window_end, self.rate[0], now)
        return self.check()

    def check(self) -> Decision:
        """Count the request if nothing counted it yet; raise RateLimited if it is over the limit."""
        if self.decision is None:
            self.decision = rate_limit_hit(key=self.key, rate=self.rate)
        if not self.decision.allowed:
            raise RateLimited(self.decision.retry_after)
        return self.decision


def hit_statement(charge: Charge) -> tuple[str, list[Any], float]:
    """The statement that counts ``charge`` in its window and returns ``hits, window_end``; its parameters; and the
    time it counts at. The service that stores a prediction runs it inside its INSERT (``services``), then
    hands the result to ``Charge.counted``."""
    limit, period = charge.rate
    now = time.time()
    window_start = math.floor(now / period) * period
    return _HIT, [charge.key, window_start, window_start + period, now, now, now, limit], now


def rate_limit_prune(*, now: float | None = None, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` counts whose window has ended; return how many."""
    now = time.time() if now is None else now
    with connection.cursor() as cursor:
        cursor.execute(_PRUNE, [now, now, batch])
        return cursor.rowcount


# ---------------------------------------------------------------------------
# Whose count a request is


def anonymous_key(request: HttpRequest) -> str:
    """``anon:`` and the client's address (``predictor.security.client_ip``, the one definition); an IPv6 one by its /64."""
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # no usable peer address (never under gunicorn); still one count for all such requests
        return f"anon:{address[:80]}"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return f"anon:{ip.ipv4_mapped}"
        return f"anon:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"anon:{ip}"


def staff_key(request: HttpRequest, user: AbstractBaseUser) -> str:
    """``token:`` and the token's hash when an API token authenticated the request (the API sets
    ``request.api_token_hash``), else ``user:`` and the id of the user of the session."""
    token_hash = getattr(request, "api_token_hash", None)
    return f"token:{token_hash}" if token_hash else f"user:{user.pk}"


def anonymous_charge(request: HttpRequest) -> Charge:
    """An anonymous request's count against its address's limit, not made yet."""
    return Charge(anonymous_key(request), settings.PREDICTOR_RATE_LIMIT_ANON)


def caller_charge(request: HttpRequest, user: AbstractBaseUser) -> Charge:
    """The count of an API caller, not made yet: a token's or a staff session's against the token limit,
    an anonymous one's against its address's."""
    if user.is_authenticated:
        return Charge(staff_key(request, user), settings.PREDICTOR_RATE_LIMIT_TOKEN)
    return anonymous_charge(request)
