"""The JSON API, version 1 (``insurance_site/urls.py`` mounts ``api`` under ``/api/v1/``).

``schemas`` holds the input, read from and validated by PredictionForm's fields once, and
the answers; ``body`` reads a JSON body; ``errors`` holds the one error shape and every
exception handler; ``views`` holds the thin operations; ``actuals`` the staff's recording of
actual charges.
"""

from csp.decorators import csp_update
from ninja import NinjaAPI

from . import actuals, errors, forecasts, views
from .schemas import MAX_BATCH_RECORDS

api = NinjaAPI(
    title="Insurance charges predictor API",
    version="1",
    description=(
        "Predict a patient's yearly medical insurance charges from six facts, one patient or up to "
        f"{MAX_BATCH_RECORDS:,} at once. Every prediction is stored. Staff read the stored history with "
        "their admin session or an API token (`Authorization: Bearer TOKEN`), and forecast a group's total charges."
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    # Swagger UI's stylesheet draws some icons as data: images: the Content-Security-Policy allows those
    # on the docs (and the OpenAPI document), nowhere else.
    docs_decorator=csp_update({"img-src": ["data:"]}),
)
api.add_router("", views.router)
api.add_router("", actuals.router)
api.add_router("", forecasts.router)
errors.exception_handlers_add(api)

__all__ = ["api"]
