"""Security: who may do what, who is asking, and how much they may ask.

- ``permissions``: every permission a page, an API operation or a template checks, defined once.
- ``guards``: the public form's rate limit, and the one guard of every staff page.
- ``client_ip``: the client's address (X-Forwarded-For believed only as far as our own proxies append).
- ``ratelimit``: rate limits shared by every worker and task, counted in PostgreSQL.
- ``lockout``: the page a locked-out admin sign-in gets (django-axes).
- ``tokens``: API tokens (only a hash is stored).
- ``access_log``: the staff access audit, failing closed, and its purge.
"""
