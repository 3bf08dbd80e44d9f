import logging

from django.apps import AppConfig
from django.conf import settings

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
