from django.contrib import admin
from django.urls import include, path

from predictor import batch_views
from predictor import views as predictor_views
from predictor.api import api

admin.site.site_header = "Insurance charges: staff console"
admin.site.site_title = "Insurance charges staff"
admin.site.index_title = "Prediction history and models"

urlpatterns = [
    path("healthz", predictor_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("batch/", batch_views.batch_upload, name="batch-upload"),
    path("", include("predictor.urls")),
]
