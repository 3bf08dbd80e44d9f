from django.contrib import admin
from django.urls import include, path

from predictor.api import api

admin.site.site_header = "Insurance charges: staff console"
admin.site.site_title = "Insurance charges staff"
admin.site.index_title = "Prediction history and models"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switcher's POST
    path("", include("predictor.urls")),
]
