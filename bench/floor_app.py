"""The floor of `make bench`: a bare Django view that parses the same JSON body as
``POST /api/v1/predictions`` and does one raw INSERT into a table shaped like
predictor_prediction. What the app costs above it is the framework's work per request.

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

TABLE = """
CREATE TABLE IF NOT EXISTS floor_prediction (
    id bigserial PRIMARY KEY, age smallint NOT NULL CHECK (age >= 0), sex varchar(6) NOT NULL, bmi double precision NOT NULL,
    children smallint NOT NULL CHECK (children >= 0), smoker varchar(3) NOT NULL, region varchar(9) NOT NULL,
    predicted_charges numeric(12, 2) NOT NULL, predicted_charges_low numeric(12, 2), predicted_charges_high numeric(12, 2),
    model_version_id bigint NOT NULL, source varchar(5) NOT NULL, created_at timestamptz NOT NULL,
    batch_id bigint, actual_charges numeric(12, 2), actual_recorded_by_id integer, actual_recorded_at timestamptz,
    anonymised_at timestamptz
);
CREATE INDEX IF NOT EXISTS floor_prediction_created_at ON floor_prediction (created_at);
"""
INSERT = (
    "INSERT INTO floor_prediction (age, sex, bmi, children, smoker, region, predicted_charges, model_version_id,"
    " source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 1, 'api', now()) RETURNING id"
)


@csrf_exempt
def predict(request):
    if request.method == "GET":
        return HttpResponse("ok")  # the readiness probe
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [data["age"], data["sex"], data["bmi"], data["children"], data["smoker"],
                                data["region"], 0])
        row_id = cursor.fetchone()[0]
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [path("predict", predict)]
application = get_wsgi_application()
with connection.cursor() as cursor:
    cursor.execute(TABLE)
connection.close()  # gunicorn forks after this import: each worker opens its own
