from django.contrib import admin
from django.urls import include, path

from predictor.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switcher's POST
    path("", include("predictor.urls")),
]
