"""Model versions (which is the champion, which the challenger, a link to each one's report) and the batches of
scored files, in the admin: read-only, but for the page that changes the champion or the challenger.

That page (``change-model/``, for staff holding MODEL_CHANGE_PERMISSION) sets or clears the challenger
and makes a version the champion, through ``predictor.serving`` (channel "admin", the user, the
reason, which a new champion requires); the challenger becomes the champion only through
``promote_challenger``, and a version below the floor never does. The record of changes
(ModelChange) is listed read-only: nobody adds, edits or deletes it, and the database refuses to.
"""

from django import forms
from django.contrib import admin, messages
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from .. import selectors, serving
from ..ml.artifacts import ModelArtifactError, artifacts_folder
from ..models import Batch, ModelChange, ModelVersion
from ..security.guards import staff_page
from ..security.permissions import MODEL_CHANGE_PERMISSION, staff_with
from .mixins import ReadOnlyAdminMixin

CHANGE_REFUSAL = 'Changing the champion or the challenger is for staff with the "Can set the challenger and change the serving model" permission.'


class ModelChangeForm(forms.Form):
    """One change: make a version the challenger or the champion (a reason required), or clear the challenger."""

    OPERATIONS = [
        (ModelChange.Kind.CHALLENGER_SET, "Make it the challenger (scored beside the champion)"),
        (ModelChange.Kind.CHAMPION, "Make it the champion (it serves every new prediction)"),
        (ModelChange.Kind.CHALLENGER_CLEAR, "Clear the challenger"),
    ]
    operation = forms.ChoiceField(choices=OPERATIONS, widget=forms.RadioSelect)
    name = forms.ChoiceField(label="Model version", required=False)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000,
                             help_text="Why: recorded with the change. Required for a new champion.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = sorted({path.stem for path in artifacts_folder().glob("*.pkl")} | set(ModelVersion.objects.values_list("name", flat=True)))
        self.fields["name"].choices = [("", "---------"), *((name, name) for name in names)]

    def clean(self):
        data = super().clean()
        operation = data.get("operation")
        if operation and operation != ModelChange.Kind.CHALLENGER_CLEAR and not data.get("name"):
            self.add_error("name", "Choose the model version.")
        if operation == ModelChange.Kind.CHAMPION and not data.get("reason", "").strip():
            self.add_error("reason", "Give the reason for changing the model that serves.")
        return data


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name", "role", "holdout_r2", "holdout_mae", "holdout_rmse", "holdout_coverage", "cv_r2", "trained_at",
        "short_sha", "report_link",
    )
    list_filter = ("active", "challenger")
    readonly_fields = ("name", "sha256", "active", "challenger", "trained_at", "registered_at", "metrics", "card")

    @admin.display(description="Role")
    def role(self, obj: ModelVersion) -> str:
        return "champion (serving)" if obj.active else ("challenger" if obj.challenger else "")

    def get_list_display(self, request: HttpRequest):
        if staff_with(request.user, MODEL_CHANGE_PERMISSION):
            return (*self.list_display, "change_links")
        return self.list_display

    @admin.display(description="Change")
    def change_links(self, obj: ModelVersion) -> str:
        url = reverse("admin:predictor_modelversion_change_model")
        links = [] if obj.active or obj.challenger else [(f"{url}?operation=challenger_set&name={obj.name}", "make challenger")]
        if not obj.active and not obj.challenger:
            links.append((f"{url}?operation=champion&name={obj.name}", "make champion"))
        if obj.challenger:
            links.append((f"{url}?operation=challenger_clear", "clear challenger"))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        can_change = staff_with(request.user, MODEL_CHANGE_PERMISSION)
        return super().changelist_view(request, extra_context={**(extra_context or {}), "can_change_models": can_change})

    def get_urls(self):
        view = staff_page(self.admin_site.admin_view(self.model_change_view), permission=MODEL_CHANGE_PERMISSION,
                          refusal=CHANGE_REFUSAL)
        return [path("change-model/", view, name="predictor_modelversion_change_model"), *super().get_urls()]

    def model_change_view(self, request: HttpRequest) -> HttpResponse:
        """The form that sets or clears the challenger or makes a version the champion; a refusal is shown by the form."""
        form = ModelChangeForm(request.POST if request.method == "POST" else None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            try:
                message = self._model_change(request, form.cleaned_data)
            except ModelArtifactError as exc:
                form.add_error(None, f"{exc} Nothing changed.")
            except DatabaseError:
                form.add_error(None, "The database did not answer, so nothing changed. Try again shortly.")
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:predictor_modelversion_changelist"))
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "form": form,
            "title": "Change the champion or the challenger",
            "champion": selectors.model_version_active(), "challenger": selectors.model_version_challenger(),
        }
        return TemplateResponse(request, "admin/predictor/modelversion/model_change.html", context)

    @staticmethod
    def _model_change(request: HttpRequest, data: dict) -> str:
        by = serving.ChangeBy(channel=ModelChange.Channel.ADMIN, user=request.user, reason=data["reason"].strip())
        if data["operation"] == ModelChange.Kind.CHAMPION:
            return f"{serving.model_version_activate(name=data['name'], by=by).name} is now the champion: it serves every new prediction."
        if data["operation"] == ModelChange.Kind.CHALLENGER_SET:
            return f"{serving.model_version_challenger_set(name=data['name'], by=by).name} is now the challenger; `manage.py challenger_score` scores it."
        cleared = serving.model_version_challenger_clear(by=by)
        if cleared is None:
            raise ModelArtifactError("There is no challenger to clear.")
        return f"{cleared.name} is no longer the challenger."

    @admin.display(description="Report")
    def report_link(self, obj: ModelVersion) -> str:
        return format_html('<a href="{}">card and holdout chart</a>', reverse("admin:predictor_modelversion_report", args=[obj.pk]))

    @admin.display(description="Interval coverage")
    def holdout_coverage(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "interval_coverage")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @staticmethod
    def _metric(obj: ModelVersion, part: str, name: str):
        return obj.metrics.get(part, {}).get(name)

    @admin.display(description="Holdout R²")
    def holdout_r2(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "r2")

    @admin.display(description="Holdout MAE ($)")
    def holdout_mae(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "mae")

    @admin.display(description="Holdout RMSE ($)")
    def holdout_rmse(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "rmse")

    @admin.display(description="CV R²")
    def cv_r2(self, obj: ModelVersion):
        return self._metric(obj, "cv", "r2")

    @admin.display(description="SHA-256")
    def short_sha(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]


@admin.register(ModelChange)
class ModelChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every change of the champion or the challenger: who, when, through which channel, why, the evidence. Append-only."""

    list_display = ("created_at", "kind", "from_version", "to_version", "username", "channel", "forced", "reason")
    list_select_related = ("from_version", "to_version")
    list_filter = ("kind", "channel", "forced")
    date_hierarchy = "created_at"
    search_fields = ("reason", "username", "from_version__name", "to_version__name")
    search_help_text = "Search by reason, username or version name."
    readonly_fields = ("created_at", "kind", "from_version", "to_version", "changed_by", "username", "channel",
                       "reason", "forced", "evidence_shown")
    exclude = ("evidence",)

    @admin.display(description="Evidence (the comparison's figures at that moment)")
    def evidence_shown(self, obj: ModelChange) -> str:
        import json

        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, sort_keys=True)) if obj.evidence else "none"

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """CSV files scored at once; new ones come from the "Score a CSV file" page linked above the list."""

    list_display = ("id", "created_at", "file_name", "row_count", "created_by", "rows_link")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    search_fields = ("=id", "file_name", "created_by__username")
    search_help_text = "Search by batch id, file name or username."
    readonly_fields = ("file_name", "row_count", "created_by", "created_at", "rows_link")
    ordering = ("-created_at", "-id")

    @admin.display(description="Predictions")
    def rows_link(self, obj: Batch) -> str:
        url = reverse("admin:predictor_prediction_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">{} rows</a>', url, f"{obj.row_count:,}")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Its predictions protect a batch: a superuser deletes them first.
        return request.user.is_active and request.user.is_superuser
