"""Every HTML route of the app, under the "predictor" namespace (the JSON API is in ``predictor.api``)."""

from django.urls import path

from . import forecast_views, views

app_name = "predictor"

urlpatterns = [
    path("", views.predict, name="predict"),
    path("result/<str:token>/", views.result, name="result"),
    path("batch/", views.batch_upload, name="batch-upload"),
    path("forecast/", forecast_views.forecast, name="forecast"),
    path("healthz", views.healthz, name="healthz"),
]
