"""Gunicorn settings, read from the environment: `gunicorn -c python:insurance_site.gunicorn insurance_site.wsgi`."""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '5000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Load the app (and so the model) in the master, before forking: one load, shared pages.
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On SIGTERM the workers finish what they hold for at most this long. The stack passes its
# GracefulTimeoutSeconds, which is also the target group's deregistration delay (default 30 s):
# ECS stops sending a draining task new requests, waits that delay, then sends SIGTERM.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
