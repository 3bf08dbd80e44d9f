"""``GET /api/v1/models/comparison`` (staff): the champion against the challenger on actual charges, the same
object ``manage.py compare_models --json`` prints. Each read is recorded in the staff access log."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import AuthorizationError, HttpError

from ..changes import services
from ..ml.compare import VERDICT_LABELS
from ..security.permissions import MODEL_CHANGE_VIEW_PERMISSION, staff_with
from .auth import HISTORY_AUTH
from .errors import HISTORY_ERRORS, ApiError

router = Router()


class Interval(Schema):
    mean: float | None
    low: float | None
    high: float | None


class Coverage(Schema):
    rate: float = Field(description="Share of the actual charges inside the version's 90% interval.")
    low: float = Field(description="Wilson 95% interval, low end.")
    high: float
    n: int = Field(description="Rows with an interval.")


class VersionFigures(Schema):
    name: str
    mae: float
    rmse: float
    bias: Interval = Field(description="Mean of actual − estimate with its 95% t interval, dollars.")
    coverage: Coverage | None = Field(description="Null when the version has no interval.")
    mean_interval_width: float | None


class Difference(Schema):
    mean: float | None = Field(description="Mean of |actual − challenger| − |actual − champion|, dollars.")
    low: float | None
    high: float | None
    p_value: float | None = Field(description="Paired t test (Diebold–Mariano for absolute loss), two-sided.")


class SegmentDifference(Difference):
    p_value_unadjusted: float | None
    level: float = Field(description="The confidence level of this segment's interval (Holm's step for its rank).")


class MaeRatio(Schema):
    value: float | None = Field(description="Challenger's MAE / champion's MAE.")
    low: float | None = Field(description="Paired percentile bootstrap 95% interval, low end.")
    high: float | None
    resamples: int
    seed: int


class Segment(Schema):
    dimension: str = Field(description="smoker, region, sex, age_band, bmi_band, interval_group or month.")
    group: str
    n: int
    difference: SegmentDifference = Field(description="Holm-adjusted p value; the interval at the Holm level of its rank.")


class Representation(Schema):
    dimension: str
    group: str
    predictions: int
    with_actual: int
    share: float | None
    under_represented: bool


class Rows(Schema):
    predictions: int
    with_actual: int
    compared: int
    skipped_not_scored: int
    skipped_anonymised: int


class ComparisonOut(Schema):
    """The comparison: the rows compared, each version's figures, the paired difference, segments and the verdict."""

    n: int = Field(description="Predictions compared: with an actual charge and both versions' answers.")
    champion: VersionFigures
    challenger: VersionFigures
    difference: Difference
    mae_ratio: MaeRatio
    segments: list[Segment] = Field(description="Segments with at least 30 compared rows.")
    verdict: Literal[tuple(VERDICT_LABELS)]
    reasons: list[str]
    margin: float = Field(description="PREDICTOR_CHALLENGER_MARGIN, dollars a patient.")
    rule: str
    rows: Rows
    representation: list[Representation]
    warnings: list[str]


@router.get(
    "/models/comparison",
    response={HTTPStatus.OK: ComparisonOut, **HISTORY_ERRORS, HTTPStatus.CONFLICT: ApiError},
    auth=HISTORY_AUTH,
    url_name="api-model-comparison",
    operation_id="predictor_api_model_comparison",
    tags=["models (staff)"],
    summary="Compare the champion with the challenger on actual charges (staff)",
    description=(
        "The active version (champion) against the challenger on every stored prediction with an actual charge "
        "and both versions' answers: the same object as `manage.py compare_models --json`. 409 when they cannot "
        "be compared (no challenger, no champion, no actual charges, nothing scored by both). Needs the "
        '"Can view model change" permission.'
    ),
)
def comparison_get(request: HttpRequest) -> Any:
    if not staff_with(request.auth, MODEL_CHANGE_VIEW_PERMISSION):
        raise AuthorizationError(
            message='Reading the comparison needs a staff account with the "Can view model change" permission.'
        )
    try:
        comparison = services.model_comparison(request=request)
    except services.ComparisonUnavailable as exc:
        raise HttpError(HTTPStatus.CONFLICT, str(exc)) from exc
    return comparison.figures
