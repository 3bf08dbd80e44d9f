"""The project's routes plus one that fails, to see the 500 page under the Content-Security-Policy."""

from django.urls import path

from insurance_site.urls import urlpatterns as project_urlpatterns


def server_error(request):
    raise RuntimeError("A deliberate failure: the 500 page under the Content-Security-Policy (tests only).")


urlpatterns = [path("csp-test-server-error/", server_error), *project_urlpatterns]
