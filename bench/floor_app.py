"""The floor of `make bench`: a bare Django view that parses the same JSON body as
``POST /api/v1/predictions`` and does one raw INSERT into predictor_prediction (the app's own
table, migrated into the floor's database). What the app costs above it is the framework's work per request.

    BENCH_FLOOR_DATABASE_URL=postgres://... gunicorn -c python:insurance_site.gunicorn bench.floor_app:application
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor_settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

# The app's own table, migrated by bench/run.py into the floor's database with every index, check
# and foreign key the app's INSERT pays for; the model version is the one `activate_model` stored.
INSERT = (
    "INSERT INTO predictor_prediction (age, sex, bmi, children, smoker, region, predicted_charges,"
    " predicted_charges_low, predicted_charges_high, model_version_id, source, created_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'api', now()) RETURNING id"
)
_active_version: list[int] = []  # read once per worker, as the app caches it


@csrf_exempt
def predict(request):
    if request.method == "GET":
        return HttpResponse("ok")  # the readiness probe
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        if not _active_version:
            cursor.execute("SELECT id FROM predictor_modelversion WHERE active")
            _active_version.append(cursor.fetchone()[0])
        cursor.execute(INSERT, [data["age"], data["sex"], data["bmi"], data["children"], data["smoker"],
                                data["region"], 0, 0, 0, _active_version[0]])
        row_id = cursor.fetchone()[0]
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [path("predict", predict)]
application = get_wsgi_application()
