"""The staff console: Django's admin site with the staff pages mounted beside the model lists.

Every staff page is listed once in ``STAFF_PAGES`` and mounted the same way: under ``/admin/``,
guarded by ``security.guards.staff_page`` with its permission, and drawn in the admin's look from
the site's context (the view gets it as ``admin_context``). The app config ``StaffAdminConfig``
makes this site Django's default one, so ``admin.site`` is it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path

from .actuals import views as actuals_views
from .batches import views as batches_views
from .changes import views as changes_views
from .forecasts import views as forecasts_views
from .monitoring import views as monitoring_views
from .oversight import selectors as oversight_selectors
from .oversight import views as oversight_views
from .security.guards import staff_page
from .security.permissions import (
    BATCH_PERMISSION,
    HISTORY_PERMISSION,
    MODEL_CHANGE_VIEW_PERMISSION,
    MODEL_VERSION_PERMISSION,
    OVERRIDE_PERMISSION,
    RECORD_PERMISSION,
    SERVING_PAUSE_PERMISSION,
)
from .technical_file import views as technical_file_views


@dataclass(frozen=True)
class StaffPage:
    """One staff page: where it is (under /admin/), its view, its URL name, and who may open it."""

    route: str
    view: Callable[..., HttpResponse]
    name: str
    permission: str
    refusal: str


HISTORY_REFUSAL = 'for staff with the "Can view prediction" permission'
STAFF_PAGES = (
    StaffPage("predictor/prediction/monitoring/", monitoring_views.monitoring, "predictor_prediction_monitoring",
              HISTORY_PERMISSION, f"Monitoring is {HISTORY_REFUSAL}."),
    StaffPage("predictor/prediction/forecast/", forecasts_views.forecast, "predictor_prediction_forecast",
              HISTORY_PERMISSION, f"Forecasts are {HISTORY_REFUSAL}."),
    StaffPage("predictor/prediction/actuals/", actuals_views.actuals_upload, "predictor_prediction_actuals",
              RECORD_PERMISSION, 'Recording actual charges is for staff with the "Can record actual charges" permission.'),
    StaffPage("predictor/batch/upload/", batches_views.batch_upload, "predictor_batch_upload",
              BATCH_PERMISSION, 'Scoring a file is for staff with the "Can add batch" permission.'),
    StaffPage("predictor/modelversion/<int:pk>/report/", monitoring_views.model_version_report,
              "predictor_modelversion_report", MODEL_VERSION_PERMISSION,
              'Model reports are for staff with the "Can view model version" permission.'),
    StaffPage("predictor/modelversion/technical-file/", technical_file_views.technical_file,
              "predictor_modelversion_technical_file", HISTORY_PERMISSION,
              f"The technical file (it holds the accuracy on recorded actual charges) is {HISTORY_REFUSAL}."),
    StaffPage("predictor/modelchange/comparison/", changes_views.comparison, "predictor_modelchange_comparison",
              MODEL_CHANGE_VIEW_PERMISSION,
              'The champion-and-challenger comparison is for staff with the "Can view model change" permission.'),
    StaffPage("predictor/prediction/<int:pk>/override/", oversight_views.charge_override, "predictor_prediction_override",
              OVERRIDE_PERMISSION,
              'Overriding an estimate is for staff with the "Can override an estimate with a reviewed charge" permission.'),
    StaffPage("predictor/servingchange/control/", oversight_views.serving_control, "predictor_serving",
              SERVING_PAUSE_PERMISSION, 'Pausing the service is for staff with the "Can pause and resume the service" permission.'),
)


class StaffSite(admin.AdminSite):
    site_header = "Insurance charges: staff console"
    site_title = "Insurance charges staff"
    index_title = "Prediction history and models"

    def index(self, request: HttpRequest, extra_context=None):
        """The home page, which also says whether the service is paused (read fresh, not from a process's cache)."""
        extra_context = {**(extra_context or {}), "serving_latest": oversight_selectors.serving_changes().first()}
        return super().index(request, extra_context)

    def get_urls(self):
        return [*(self._staff_page_url(page) for page in STAFF_PAGES), *super().get_urls()]

    def _staff_page_url(self, page: StaffPage):
        @wraps(page.view)
        def view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            return page.view(request, self.each_context(request), *args, **kwargs)

        return path(page.route, staff_page(view, permission=page.permission, refusal=page.refusal), name=page.name)
