"""WSGI entry point. Gunicorn preloads this module, so the verified models are loaded once
before the workers fork (their memory is shared), and a missing or tampered default artifact
stops the server at start with a message that says what to do (``predictor.serving.warm_up``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")

application = get_wsgi_application()

from predictor import serving  # noqa: E402  (needs Django set up first)

serving.warm_up()
