"""Annex IV, sections 5 to 9: risk management, changes over the lifecycle (the model-change history),
standards, the declaration of conformity, and the post-market monitoring plan with the alerts raised."""

from __future__ import annotations

from .context import LIVE_SOURCE, Context
from .functioning import DRIFT_SOURCE, STATS
from .figures import Facts, Figure, Items, Missing, Point, Section, Table, Text
from .general import provider_facts
from .sources import constant_figure, setting_figure, template_figure

DRIFT = "predictor.ml.drift"


def section_5(context: Context) -> Section:
    return Section("5", "Risk-management system (Art. 9)", [Point("5", "The risk-management system", provider_facts(context, {
        "risk_management.description": "Risk-management system", "risk_management.reviewed_on": "Last reviewed",
    }))])


def section_6(context: Context) -> Section:
    point = Point("6", "Changes made through the lifecycle")
    if not context.changes:
        point.blocks.append(Missing("model changes", "No model change is recorded yet (the start-up step records the first)."))
    rows = []
    for change in context.changes:
        def cell(field: str, value, kind: str = "text") -> Figure:
            return Figure(field, value, "database: predictor_model_change", context.date, kind,
                          ("database", "model_change", change.pk, field))

        rows.append((
            cell("created_at", change.created_at.isoformat()), cell("kind", change.kind),
            cell("from_version", change.from_version.name if change.from_version else None),
            cell("to_version", change.to_version.name if change.to_version else None),
            cell("username", change.username or "(a command)"), cell("channel", change.channel),
            cell("reason", change.reason or "(none given)"), cell("forced", change.forced, "flag"),
            "yes" if change.evidence else "none",
        ))
    if rows:
        point.blocks.append(Table(
            "Every change of the serving model or the challenger, oldest first (append-only: the database refuses "
            "to change or delete a row)",
            ("When", "Kind", "From", "To", "By", "Channel", "Reason", "Forced", "Evidence"), tuple(rows),
            "database: predictor_model_change", context.date,
        ))
    point.blocks.append(Text(
        "The software's own changes are in the repository's history; each release pins every package "
        "(section 1(c)) and each model version keeps its card (section 1(a))."
    ))
    return Section("6", "Changes through the lifecycle", [point])


def section_7(context: Context) -> Section:
    return Section("7", "Standards applied", [Point("7", "Harmonised standards, other standards, and solutions adopted",
                                                    provider_facts(context, {
                                                        "standards.harmonised": "Harmonised standards applied",
                                                        "standards.other": "Other standards and specifications",
                                                        "standards.solutions": "Solutions adopted without harmonised standards",
                                                    }))])


def section_8(context: Context) -> Section:
    return Section("8", "EU declaration of conformity (Art. 47)", [Point("8", "The declaration", provider_facts(context, {
        "declaration_of_conformity.reference": "Declaration", "declaration_of_conformity.date": "Signed on",
        "declaration_of_conformity.signatory": "Signed by",
    }))])


def schedule(context: Context) -> list:
    figures = [template_figure(path, label) for path, label in (
        ("Parameters.MonitorSchedule.Default", "When monitor_report runs (EventBridge, UTC; template default)"),
        ("Parameters.RetentionSchedule.Default", "When purge_access_log and purge_predictions run (template default)"),
    )]
    if None in figures:
        return [Missing("the monitoring schedule", "deploy/template.yaml is not installed here: run the command from a checkout.")]
    return [Facts(tuple(figures)), Text(
        "The scheduled monitor_report exits 1 when an alert or a drift flag is raised; the stack then emails "
        "MonitorAlertEmail (when set). The deployed stack's own values may differ from the template's defaults: "
        "`aws cloudformation describe-stacks` shows them.")]


def thresholds(context: Context) -> list:
    blocks: list = [Facts((
        constant_figure(STATS, "MIN_ACTUALS", "Fewest actual charges in a slice before it can alert", "count"),
        constant_figure(STATS, "COVERAGE_FLOOR", "Coverage alert below (Wilson upper bound)", "percent"),
        constant_figure(STATS, "BIAS_SHARE", "Bias alert beyond this share of the mean charge", "percent"),
        constant_figure(DRIFT, "PSI_WATCH", "PSI to watch", "number"),
        constant_figure(DRIFT, "PSI_DRIFT", "PSI of a clear shift", "number"),
        constant_figure(DRIFT, "THRESHOLD_QUANTILE", "Drift flag: quantile of the PSI of training resamples of the same size", "percent"),
        constant_figure(DRIFT, "RESAMPLES", "Training resamples behind each drift threshold", "count"),
        setting_figure("PREDICTOR_ACTIVE_MODEL_TTL", "Seconds until every task serves a newly activated version", "seconds"),
    ))]
    if context.card is not None:
        method = context.card.figure("drift_reference.method", "Drift method in force (the champion's reference)", "text")
        blocks.append(Facts((method,)) if method else Missing("the drift reference", "The champion's card has none: "
                                                               "`manage.py add_drift_reference NAME --data TRAINING.csv`."))
    return blocks


def alerts(context: Context) -> list:
    if context.report is None:
        return [Missing("the alerts raised so far", context.report_missing or "monitoring is unavailable")]
    report = context.report
    raised = [*report.alerts, *report.flags]
    counts = Facts((
        Figure("Predictions stored", report.predictions, DRIFT_SOURCE, context.date, "count", ("live", "report", "all", "predictions")),
        Figure("Alerts and drift flags raised", len(raised), LIVE_SOURCE, context.date, "count", ("live", "report", "all", "raised")),
    ))
    if not raised:
        return [counts, Text("No alert or drift flag is raised over the recorded actual charges and every stored prediction.")]
    return [counts, Items(tuple(raised))]


def section_9(context: Context) -> Section:
    return Section("9", "Post-market monitoring (Art. 72)", [
        Point("9(a)", "The plan: what is monitored, when, and who acts", [
            Items((
                "Accuracy, bias and interval coverage on the actual charges staff record, overall, by month, interval "
                "group, region and model version (the monitoring page; monitor_report).",
                "Input drift: each input's population stability index against the champion's training data, with a "
                "threshold from resamples of the training data of the same size.",
                "Out-of-range inputs: the share of predictions outside the training ranges.",
                "A challenger version scored on stored predictions and compared before any change (section 6).",
            )),
            *schedule(context),
            *provider_facts(context, {"post_market.responsible": "Acts on the alerts"}),
        ]),
        Point("9(b)", "Thresholds and drift method in force", thresholds(context)),
        Point("9(c)", "Alerts raised so far (over every stored prediction, as of this file's date)", alerts(context)),
    ])
