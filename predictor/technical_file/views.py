"""The staff page "Technical file": the technical file or the instructions for use, shown in the admin's look
and downloaded as Markdown or printable HTML. Mounted and guarded by ``predictor.sites``; thin.

Reading it is written to the access log first (it holds the accuracy on recorded actual charges): when the
entry cannot be stored, nothing is shown. A malformed provider file is shown, with its line and key, instead.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe

from ..models import ModelVersion
from ..security import access_log
from .context import context_build
from .documents import FORMATS, TITLES, document_render, file_name, instructions_build, technical_file_build
from .provider import ProviderFileError, provider_read

BUILDERS = {"technical-file": technical_file_build, "instructions-for-use": instructions_build}
TEMPLATE = "admin/predictor/technical_file.html"


@require_safe
def technical_file(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """Show one document (``?document=``), or download it (``?download=md`` or ``html``)."""
    slug = request.GET.get("document", "technical-file")
    fmt = request.GET.get("download", "")
    context = {**admin_context, "opts": ModelVersion._meta, "title": "Technical file", "documents": TITLES, "slug": slug}
    if slug not in BUILDERS or (fmt and fmt not in FORMATS):
        context["refusal"] = (
            f"Choose document={' or '.join(BUILDERS)} and, to download, download={' or '.join(FORMATS)}."
        )
        return TemplateResponse(request, TEMPLATE, context, status=HTTPStatus.BAD_REQUEST)
    try:
        built = context_build(provider=provider_read())
    except ProviderFileError as exc:
        context["refusal"] = f"The provider file is refused: {exc}"
        return TemplateResponse(request, TEMPLATE, context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    document = BUILDERS[slug](built)
    actuals = built.report.overall.accuracy.n if built.report is not None and built.report.overall else 0
    try:
        access_log.access_log_record(
            request=request, action=access_log.Action.TECHNICAL_FILE, row_count=actuals,
            filters={"document": slug, "format": fmt or "page"},
        )
    except access_log.AccessLogUnavailable as exc:
        context["refusal"] = str(exc)
        return TemplateResponse(request, TEMPLATE, context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    if fmt:
        content_type = "text/markdown; charset=utf-8" if fmt == "md" else "text/html; charset=utf-8"
        response = HttpResponse(document_render(document, fmt), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{file_name(document, fmt)}"'
        return response
    context.update(document=document, missing_fields=built.provider.missing)
    return TemplateResponse(request, TEMPLATE, context)
