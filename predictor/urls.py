"""Every HTML route of the app, under the "predictor" namespace (the JSON API is in ``predictor.api``)."""

from django.urls import path

from . import views

app_name = "predictor"

urlpatterns = [
    path("", views.predict, name="predict"),
    path("result/<str:token>/", views.result, name="result"),
    # Staff pages now in the admin (predictor.admin.site); their old paths redirect there.
    path("batch/", views.moved_to_admin("predictor_batch_upload"), name="batch-upload"),
    path("forecast/", views.moved_to_admin("predictor_prediction_forecast"), name="forecast"),
    path("healthz", views.healthz, name="healthz"),
]
