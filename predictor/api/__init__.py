"""The JSON API, version 1 (``insurance_site/urls.py`` mounts ``api`` under ``/api/v1/``).

One module per resource, each with its thin operations: ``predictions`` (create, read the
history), ``actuals`` (staff record actual charges), ``overrides`` (staff override an estimate with a
reviewed charge), ``forecasts`` (staff forecast a group), ``changes`` (staff read the champion-and-challenger
comparison).
``schemas`` holds the input, read from and validated by PredictionForm's fields once, and the
answers; ``answers`` renders a batch's answer from its columns; ``body`` reads a JSON body; ``errors`` holds the one error shape and every exception
handler; ``auth`` who calls (a token or a staff session); ``throttles`` the rate limits. HEAD is
answered wherever GET is (``head_with_get``).
"""

from csp.decorators import csp_update
from ninja import NinjaAPI, Router

from . import actuals, changes, errors, forecasts, overrides, predictions
from .schemas import MAX_BATCH_RECORDS
from .throttles import RateLimitThrottle


def head_with_get(router: Router) -> None:
    """Answer HEAD with each GET operation of the router, as Django's own views do.

    The copy is the GET operation itself (same auth, checks and answer; gunicorn and Django's
    test client drop the body), left out of the OpenAPI document, where it would only repeat
    the GET under the same operation id. Call it once the router's operations are declared.
    """
    for path_view in router.path_operations.values():
        for operation in list(path_view.operations):
            if "GET" in operation.methods and "HEAD" not in operation.methods:
                head = operation.clone()
                head.methods = ["HEAD"]
                head.include_in_schema = False
                path_view.operations.append(head)


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
    # Every operation counts against a rate limit (predictor.security.ratelimit): per address, or per token or staff user.
    throttle=[RateLimitThrottle()],

    # Swagger UI's stylesheet draws some icons as data: images: the Content-Security-Policy allows those
    # on the docs (and the OpenAPI document), nowhere else.
    docs_decorator=csp_update({"img-src": ["data:"]}),
)
for router in (predictions.router, actuals.router, overrides.router, forecasts.router, changes.router):
    head_with_get(router)
api.add_router("", predictions.router)
api.add_router("", actuals.router)
api.add_router("", overrides.router)
api.add_router("", forecasts.router)
api.add_router("", changes.router)
errors.exception_handlers_add(api)

__all__ = ["api"]
