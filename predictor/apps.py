import logging

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps

logger = logging.getLogger(__name__)


class PredictorConfig(AppConfig):
    name = "predictor"
    verbose_name = "Insurance charges predictor"

    def ready(self) -> None:
        if settings.LOCAL_SQLITE:
            logger.warning(
                "DATABASE_URL is not set: using the SQLite file %s (DJANGO_LOCAL_MODE, a local run only; "
                "set DATABASE_URL to a PostgreSQL URL for anything else).",
                settings.SQLITE_PATH,
            )


class StaffAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the staff console's site (``predictor.sites.StaffSite``) as its default site."""

    default = False  # named in INSTALLED_APPS; "predictor" itself is PredictorConfig
    default_site = "predictor.sites.StaffSite"
