"""Print the monitoring figures: accuracy, calibration and drift, as on the staff monitoring page.

    python manage.py monitor_report
    python manage.py monitor_report --since 2026-01-01 --until 2026-03-31 --model huber-blend-v1 --json

For the predictions made from ``--since`` to ``--until`` (inclusive days, UTC; default: all) by
``--model`` (default: every version), on those with actual charges: the count, MAE, RMSE, R², the
mean bias (actual − predicted) with its 95% interval and the 90% interval's coverage with its
Wilson interval, overall, by month, by interval group, by region and by model version (next to
the cards' holdout figures); the alerts; and each input's drift (PSI, its size-aware threshold,
the status) against the training data; then, apart from the model's own accuracy, the staff
overrides of those predictions (how many, the mean reviewed charge − estimate, and the estimate
against the reviewed charge on the overridden rows with actual charges). ``--json`` prints one
JSON object instead (the overrides under ``overrides``).

It exits 1 when an alert or a drift flag is raised (after printing everything), so that a
scheduler can notify someone; 0 otherwise; 2 when it cannot report (bad options, no database).
"""

import argparse
import json
import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import monitoring
from predictor.models import ModelVersion
from predictor.oversight.selectors import override_figures


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; write it like 2026-01-31.") from None


def _money(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{'-' if value < 0 else ''}${abs(value):,.{digits}f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = "Print the monitoring figures (accuracy, calibration, drift, alerts); exit 1 when an alert or a drift flag is raised."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_date, help="First day of the predictions (YYYY-MM-DD, UTC).")
        parser.add_argument("--until", type=_date, help="Last day of the predictions, included (YYYY-MM-DD, UTC).")
        parser.add_argument("--model", help="Only this model version's predictions (and drift against its card).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, since: date | None, until: date | None, model: str | None, **options):
        if since and until and since > until:
            raise CommandError(f"--since {since} comes after --until {until}.", returncode=2)
        try:
            version = None
            if model:
                version = ModelVersion.objects.filter(name=model).first()
                if version is None:
                    known = ", ".join(ModelVersion.objects.order_by("name").values_list("name", flat=True)) or "none yet"
                    raise CommandError(f"There is no model version {model!r} (known: {known}).", returncode=2)
            report = monitoring.monitoring_report(since=since, until=until, model_version=version)
            overrides = override_figures(since=since, until=until, model_version=version)
        except monitoring.MonitoringUnavailable as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database is not available: {exc}", returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps({**report.as_json(), "overrides": overrides and overrides.as_json()}, indent=2))
        else:
            self.stdout.write("\n".join(self._lines(report, overrides)))
        if report.raised:
            sys.exit(1)

    def _override_lines(self, overrides) -> list[str]:
        if overrides is None:
            return []
        lines = ["staff overrides (apart from the model's accuracy above, which is always the estimate's)",
                 f"  {overrides.overridden:,} of {overrides.predictions:,} predictions have a reviewed charge "
                 f"({overrides.overrides:,} override{'' if overrides.overrides == 1 else 's'} in all)"]
        if overrides.change is not None:
            change = overrides.change
            interval = f" (95% CI {_money(change.low, 0)} to {_money(change.high, 0)})" if change.low is not None else ""
            lines.append(f"  reviewed charge − estimate: {_money(change.value, 0)} on average{interval}")
        for label, figures in (("estimate", overrides.estimate), ("reviewed charge", overrides.reviewed)):
            if figures is not None:
                lines.append(f"  {label}, on the {figures.n:,} overridden with actual charges: MAE {_money(figures.mae)}, "
                             f"RMSE {_money(figures.rmse)}, bias {_money(figures.bias.value, 0)}")
        return ["", *lines]

    def _lines(self, report: monitoring.MonitoringReport, overrides) -> list[str]:
        period = "all predictions"
        if report.since or report.until:
            period = f"predictions made from {report.since or 'the first'} to {report.until or 'the last'} (UTC)"
        lines = [
            f"{report.model or 'all model versions'}, {period}",
            f"predictions: {report.predictions:,}; with actual charges: {report.overall.accuracy.n if report.overall else 0:,}",
            "",
            f"{'':40}{'n':>9} {'MAE':>11} {'RMSE':>11} {'R²':>7}  {'bias (95% CI)':34}coverage (Wilson 95% CI)",
        ]

        def row(label: str, accuracy) -> str:
            if accuracy is None:
                return f"{label:40}{0:>9}"
            bias, coverage = accuracy.bias, accuracy.coverage
            bias_text = _money(bias.value, 0) + (
                f" ({_money(bias.low, 0)} to {_money(bias.high, 0)})" if bias.low is not None else ""
            )
            coverage_text = (
                f"{_percent(coverage.value)} ({_percent(coverage.low)} to {_percent(coverage.high)})" if coverage else "—"
            )
            r2 = "—" if accuracy.r2 is None else f"{accuracy.r2:.4f}"
            return (
                f"{label[:39]:40}{accuracy.n:>9,} {_money(accuracy.mae):>11} {_money(accuracy.rmse):>11} {r2:>7}  "
                f"{bias_text:34}{coverage_text}"
            )

        lines.append(row("overall", report.overall.accuracy if report.overall else None))
        if report.holdout:
            lines.append(row(f"card holdout: {report.holdout.version}", report.holdout.accuracy))
        if report.in_sample:
            lines.append(
                f"note: {report.in_sample.count:,} of the {report.in_sample.of:,} actual charges are of patients "
                f"{', '.join(report.in_sample.versions)} was trained on: in-sample errors, smaller than on new patients."
            )
        for title, slices in (
            ("by month (UTC)", report.by_month),
            ("by interval group", report.by_group),
            ("by region", report.by_region),
        ):
            lines += ["", title] + [row("  " + part.key if part.kind != "group" else "  " + part.label, part.accuracy) for part in slices]
        lines += ["", "by model version (live, then the card's holdout)"]
        for part in report.by_version:
            lines.append(row(f"  {part.key}", part.accuracy))
            lines.append(row("    card holdout", part.holdout.accuracy if part.holdout else None))
        lines.append("")
        drift = report.drift
        if drift.inputs:
            lines.append(f"drift against the training data of {drift.reference} ({drift.n:,} predictions)")
            lines.append(f"  {'input':10}{'PSI':>8}{'threshold':>11}  {'status':8}band (conventional)")
            for item in drift.inputs:
                lines.append(f"  {item.name:10}{item.psi:>8.4f}{item.threshold:>11.4f}  {item.status:8}{item.band}")
            if drift.anonymised:
                lines.append(
                    f"  {drift.anonymised:,} anonymised predictions left out of age, bmi and children (their inputs are bands)"
                )
        elif drift.missing:
            lines.append(f"drift: {drift.missing}")
        else:
            lines.append("drift: no predictions in this period.")
        if drift.out_of_range:
            lines.append(
                "outside the training range: "
                + ", ".join(f"{'any input' if name == 'any' else name} {share:.2%}" for name, share in drift.out_of_range.items())
            )
        lines += self._override_lines(overrides)
        lines.append("")
        if report.alerts or report.flags:
            lines.append(f"alerts and drift flags ({len(report.alerts) + len(report.flags)}):")
            lines += [f"  - {item}" for item in [*report.alerts, *report.flags]]
        else:
            lines.append("no alert and no drift flag.")
        return lines
