"""changes.services: the comparison (with its access-log entry) and the promotion of the challenger by rule."""

from decimal import Decimal

import pytest

from predictor.changes import services
from predictor.models import AccessLogEntry, ModelChange, ModelVersion
from tests.changes.scores import better_rows, worse_rows
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


def test_without_a_challenger_there_is_nothing_to_compare_and_nothing_is_logged(active_model_version):
    with pytest.raises(services.ComparisonUnavailable, match="no challenger"):
        services.model_comparison(command="test")

    assert not AccessLogEntry.objects.exists()


def test_without_actual_charges_there_is_nothing_to_compare(challenger_version, active_model_version):
    PredictionFactory(model_version=active_model_version)

    with pytest.raises(services.ComparisonUnavailable, match="No stored prediction has an actual charge"):
        services.model_comparison(command="test")


def test_with_actual_charges_but_no_scores_it_says_to_score_them(challenger_version, active_model_version):
    PredictionFactory(model_version=active_model_version, actual_charges=Decimal("100"))

    with pytest.raises(services.ComparisonUnavailable, match="challenger_score"):
        services.model_comparison(command="test")


def test_a_better_challenger_and_the_read_is_in_the_access_log(challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)
    PredictionFactory(model_version=active_model_version, actual_charges=Decimal("100"))  # not scored: skipped

    comparison = services.model_comparison(command="compare_models")

    figures = comparison.figures
    assert figures["verdict"] == "better"
    assert figures["n"] == 60 and figures["rows"]["skipped_not_scored"] == 1 and figures["rows"]["with_actual"] == 61
    assert figures["champion"]["name"] == active_model_version.name and figures["challenger"]["name"] == challenger_version.name
    assert figures["challenger"]["coverage"]["rate"] == 0.9
    assert len(comparison.differences) == 60 and comparison.differences.mean() == pytest.approx(figures["difference"]["mean"], abs=0.005)
    assert any("not scored by both" in warning for warning in figures["warnings"])
    [entry] = AccessLogEntry.objects.all()
    assert entry.action == AccessLogEntry.Action.MODEL_COMPARISON and entry.command == "compare_models"
    assert entry.row_count == 60 and entry.filters == {"champion": active_model_version.name, "challenger": challenger_version.name}


def test_the_comparison_warns_of_a_segment_its_actual_charges_under_represent(challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version, count=60)
    PredictionFactory.create_batch(200, model_version=active_model_version, smoker="yes", region="southwest")

    figures = services.model_comparison(command="test").figures

    flagged = {(row["dimension"], row["group"]) for row in figures["representation"] if row["under_represented"]}
    assert ("smoker", "yes") in flagged and ("smoker", "no") not in flagged
    assert any(warning.startswith("smoker yes:") for warning in figures["warnings"])


def test_a_better_challenger_is_promoted_and_the_change_holds_the_evidence(challenger_version, active_model_version, admin_user):
    better_rows(active_model_version, challenger_version)

    promotion = services.challenger_promote(user=admin_user, reason="lower errors", command="promote_challenger")

    assert promotion.version.name == "huber-blend-v1" and promotion.previous == active_model_version and not promotion.forced
    assert ModelVersion.objects.get(active=True).name == "huber-blend-v1"
    assert not ModelVersion.objects.filter(challenger=True).exists()
    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert change.channel == ModelChange.Channel.PROMOTION and change.changed_by == admin_user and change.username == "admin"
    assert change.reason == "lower errors" and change.forced is False
    assert change.from_version == active_model_version and change.to_version.name == "huber-blend-v1"
    assert change.evidence["verdict"] == "better" and change.evidence["n"] == 60
    assert change.evidence["difference"] == promotion.comparison.figures["difference"]


def test_a_worse_challenger_is_refused_saying_why_and_nothing_changes(challenger_version, active_model_version):
    worse_rows(active_model_version, challenger_version)
    changes_before = ModelChange.objects.count()

    with pytest.raises(services.PromotionRefused, match="verdict is worse") as refused:
        services.challenger_promote(reason="try", command="promote_challenger")

    assert "wholly above $0" in str(refused.value) and refused.value.comparison.verdict == "worse"
    assert ModelVersion.objects.get(active=True) == active_model_version
    assert ModelVersion.objects.get(challenger=True) == challenger_version
    assert ModelChange.objects.count() == changes_before
    assert AccessLogEntry.objects.filter(command="promote_challenger").count() == 1  # the refused read is still recorded


def test_a_forced_promotion_needs_a_reason(challenger_version, active_model_version):
    with pytest.raises(services.PromotionRefused, match="needs a reason"):
        services.challenger_promote(force=True, reason="  ", command="promote_challenger")

    assert ModelVersion.objects.get(challenger=True) == challenger_version


def test_a_forced_promotion_of_a_worse_challenger_is_recorded_as_forced(challenger_version, active_model_version):
    worse_rows(active_model_version, challenger_version)

    promotion = services.challenger_promote(force=True, reason="champion withdrawn", command="promote_challenger")

    assert promotion.forced
    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert change.forced and change.reason == "champion withdrawn" and change.evidence["verdict"] == "worse"


def test_a_forced_promotion_without_actual_charges_records_why_there_was_no_comparison(challenger_version, active_model_version):
    services.challenger_promote(force=True, reason="emergency", command="promote_challenger")

    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert change.forced and "No stored prediction has an actual charge" in change.evidence["unavailable"]


def test_promotion_without_a_challenger_is_refused(active_model_version):
    with pytest.raises(services.ComparisonUnavailable, match="no challenger"):
        services.challenger_promote(force=True, reason="x", command="promote_challenger")

    assert ModelVersion.objects.get(active=True) == active_model_version
