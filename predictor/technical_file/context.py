"""What both documents are built from, read once: the provider file, the model versions and the champion's
card, the model-change history, and the live monitoring figures over every recorded actual charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..models import ModelChange, ModelVersion
from ..monitoring import MonitoringReport, MonitoringUnavailable, monitoring_report
from .figures import Estimate, Figure
from .provider import Provider, provider_read
from .sources import Card, card_of

LIVE_SOURCE = "database: predictions with recorded actual charges, all dates (monitoring_report)"


@dataclass
class Context:
    generated_at: datetime
    provider: Provider
    versions: list[ModelVersion]
    champion: ModelVersion | None
    card: Card | None  # the champion's
    changes: list[ModelChange]
    report: MonitoringReport | None
    report_missing: str | None

    @property
    def date(self) -> str:
        return self.generated_at.date().isoformat()

    def live(self, slice_kind: str, key: str, measure: str, label: str) -> Figure | Estimate | None:
        """A live figure of the monitoring report: ``measure`` (n, mae, rmse, r2, bias, coverage) of one slice."""
        if self.report is None:
            return None
        part = next((part for part in self.report.slices if part.kind == slice_kind and part.key == key), None)
        if part is None:
            return None
        accuracy = part.accuracy
        ref = ("live", slice_kind, key, measure)
        where = f"{LIVE_SOURCE}, {part.label}"

        def figure(value, kind: str, suffix: str = "", digits: int | None = None, name: str = measure) -> Figure:
            return Figure(f"{label}{suffix}", value, where, self.date, kind, (*ref[:3], name), digits)

        if measure == "n":
            return figure(accuracy.n, "count")
        if measure in ("mae", "rmse"):
            return figure(round(getattr(accuracy, measure), 2), "money")
        if measure == "r2":
            return None if accuracy.r2 is None else figure(round(accuracy.r2, 4), "number", digits=4)
        if measure == "bias":
            bias = accuracy.bias
            low = None if bias.low is None else figure(round(bias.low, 2), "money", " (95% low)", name="bias_low")
            high = None if bias.high is None else figure(round(bias.high, 2), "money", " (95% high)", name="bias_high")
            return Estimate(figure(round(bias.value, 2), "money"), low, high, note="too few rows for an interval")
        if measure == "coverage":
            coverage = accuracy.coverage
            if coverage is None:
                return None
            return Estimate(
                figure(round(coverage.value, 4), "percent"),
                figure(round(coverage.low, 4), "percent", " (95% low)", name="coverage_low"),
                figure(round(coverage.high, 4), "percent", " (95% high)", name="coverage_high"),
            )
        raise ValueError(measure)


def context_build(*, provider: Provider | None = None, now: datetime | None = None) -> Context:
    """Read everything the documents need; the provider file is read (and refused when malformed) here."""
    provider = provider if provider is not None else provider_read()
    versions = list(ModelVersion.objects.order_by("trained_at", "name"))
    champion = next((version for version in versions if version.active), None)
    changes = list(ModelChange.objects.select_related("from_version", "to_version").order_by("created_at", "id"))
    try:
        report, missing = monitoring_report(detail=False), None
    except MonitoringUnavailable as exc:
        report, missing = None, str(exc)
    return Context(
        generated_at=now or datetime.now(UTC),
        provider=provider,
        versions=versions,
        champion=champion,
        card=card_of(champion) if champion is not None else None,
        changes=changes,
        report=report,
        report_missing=missing,
    )
