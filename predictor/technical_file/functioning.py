"""Annex IV, sections 3 and 4: capabilities and limitations (accuracy overall and by group, extrapolation,
the input specification, oversight, record-keeping) and why these metrics. The instructions for use reuse
these blocks."""

from __future__ import annotations

from ..ml.interval import interval_group_label
from ..models import Prediction
from .context import LIVE_SOURCE, Context
from .development import NO_CARD, facts, fairness_groups
from .figures import Facts, Figure, Items, Missing, Point, Section, Table, Text
from .oversight import facility_blocks, logged_records
from .records import application_log_figures
from .sources import constant_figure

FORMS = "predictor.forms"
STATS = "predictor.ml.stats"
DRIFT_SOURCE = "database: every stored prediction, all dates (monitoring_report, drift)"


def declared_accuracy(context: Context) -> list:
    """The accuracy declared overall: the champion's holdout, and what the recorded actual charges show."""
    blocks: list = []
    if context.card is None:
        return [NO_CARD]
    blocks.append(Text(f"Expected accuracy, on the 30% of the training data held out ({context.card.version.name}):"))
    blocks.append(facts(context.card, [
        ("holdout.mae", "Mean absolute error", "money"), ("holdout.rmse", "Root mean squared error", "money"),
        ("holdout.r2", "R²", "number"), ("holdout.interval_coverage", "Share of actual charges inside the 90% interval", "percent"),
        ("holdout.mean_interval_width", "Mean width of the 90% interval", "money"),
    ]))
    blocks.append(Text("Accuracy in service, on every prediction whose actual charges were recorded:"))
    if context.report is None:
        blocks.append(Missing("accuracy in service", context.report_missing or "monitoring is unavailable"))
    elif context.report.overall is None:
        blocks.append(Missing("accuracy in service", "No actual charges are recorded yet: record them (admin, upload page, "
                              "record_actuals, API) and regenerate."))
    else:
        rows = [context.live("overall", "all", measure, label) for measure, label in (
            ("n", "Predictions with actual charges"), ("mae", "Mean absolute error"), ("rmse", "Root mean squared error"),
            ("r2", "R²"), ("bias", "Mean bias, actual − estimate (95% CI)"), ("coverage", "90% interval coverage (95% CI)"),
        )]
        blocks.append(Facts(tuple(row for row in rows if row is not None)))
    return blocks


def accuracy_by_group(context: Context) -> list:
    """Accuracy for groups of persons: out-of-fold (card), the holdout by interval group, and live by group and region."""
    blocks: list = []
    if context.card is not None:
        blocks += fairness_groups(context.card)
        coverage = (context.card.data.get("holdout") or {}).get("coverage_by_group") or {}
        blocks.append(Table(
            "Holdout coverage of the 90% interval by interval group", ("Group", "Coverage"),
            tuple((str(interval_group_label(name)), context.card.figure(f"holdout.coverage_by_group.{name}", name, "percent"))
                  for name in coverage),
            f"{context.card.where}: holdout.coverage_by_group", context.card.date,
        ))
    if context.report is not None and context.report.overall is not None:
        parts = [*context.report.by_group, *context.report.by_region]
        blocks.append(Table(
            "In service: by interval group and by region", ("Slice", "n", "MAE", "Bias (95% CI)", "90% coverage (95% CI)"),
            tuple((part.label, context.live(part.kind, part.key, "n", "n"), context.live(part.kind, part.key, "mae", "MAE"),
                   context.live(part.kind, part.key, "bias", "bias"), context.live(part.kind, part.key, "coverage", "coverage") or "")
                  for part in parts),
            LIVE_SOURCE, context.date,
        ))
    return blocks


def input_specification(context: Context) -> list:
    """The inputs: what is accepted (the form's limits and choices) against what the model was trained on."""
    numeric = []
    for name in ("age", "bmi", "children"):
        trained = [context.card.figure(f"training_ranges.{name}[{end}]", f"{name} trained", "number") for end in (0, 1)] if context.card else [None, None]
        numeric.append((
            name, constant_figure(FORMS, "LIMITS", f"{name} lowest accepted", "number", f"{name}[0]"),
            constant_figure(FORMS, "LIMITS", f"{name} highest accepted", "number", f"{name}[1]"),
            trained[0] or "unknown", trained[1] or "unknown",
        ))
    choices = [(name, ", ".join(value for value, _label in field.choices)) for name, field in (
        ("sex", Prediction.Sex), ("smoker", Prediction.Smoker), ("region", Prediction.Region))]
    return [
        Table("Numeric inputs: accepted, and seen in training (outside it the model extrapolates)",
              ("Input", "Lowest accepted", "Highest accepted", "Lowest trained", "Highest trained"), tuple(numeric),
              "predictor/forms.py LIMITS; the champion's model card training_ranges", context.date),
        Table("Choice inputs (lower-case words in the API and files)", ("Input", "Values"), tuple(choices),
              "predictor/models/predictions.py choices", context.date),
        Text("Age and children are whole numbers; BMI is kg/m². An estimate is yearly charges in US dollars with a "
             "90% prediction interval: for 9 patients in 10 like this one the actual charges fall inside it, and the "
             "interval is wider or lopsided for groups whose charges vary more."),
    ]


def limitations(context: Context) -> list:
    blocks: list = [Items((
        "Trained on 1,338 US beneficiaries of one public data set; charges elsewhere, later or under other contracts may differ.",
        "Inputs beyond the training ranges are accepted and flagged as extrapolation; estimates there are least reliable.",
        "The interval holds less often for some groups than for others (the coverage by group above).",
        "Figures by sex, age, region or smoking describe associations in past data, not causes.",
    ))]
    if context.report is not None and context.report.drift.out_of_range:
        blocks.append(Facts(tuple(
            Figure(f"Share of predictions with {name} outside the training range" if name != "any" else
                   "Share of predictions with any input outside the training range",
                   round(share, 6), DRIFT_SOURCE, context.date, "percent", ("live", "out_of_range", name, "share"), 2)
            for name, share in context.report.drift.out_of_range.items()
        )))
    return blocks


def record_keeping(context: Context) -> list:
    """Art. 12: what is logged for each prediction and each staff action, and for how long."""
    blocks: list = []
    for record in logged_records():
        blocks.append(Table(
            f"{record.model._meta.verbose_name.capitalize()} (table {record.table}): one row for {record.when}; "
            f"retention: {record.retention}", ("Field", "What it records"),
            tuple((field.name, field.means + ("" if field.always else " (when it applies)")) for field in record.fields),
            f"predictor/models: {record.model.__name__}", context.date,
        ))
        if record.retention_figures:
            blocks.append(Facts(record.retention_figures))
    blocks.append(Text("The process's own log (requests, errors, warnings) goes to standard output, collected by the "
                       "container platform:"))
    blocks.append(Facts(tuple(application_log_figures())))
    return blocks


def oversight(context: Context) -> list:
    return facility_blocks()


def section_3(context: Context) -> Section:
    return Section("3", "Monitoring, functioning and control", [
        Point("3(a)", "Capabilities and expected accuracy", declared_accuracy(context)),
        Point("3(b)", "Accuracy for specific persons or groups of persons", accuracy_by_group(context)),
        Point("3(c)", "Limitations, foreseeable unintended outcomes and sources of risk", limitations(context)),
        Point("3(d)", "Human oversight measures (Art. 14)", oversight(context)),
        Point("3(e)", "Specification of the input data", input_specification(context)),
        Point("3(f)", "Record-keeping (Art. 12): what is logged, and for how long", record_keeping(context)),
    ])


def section_4(context: Context) -> Section:
    thresholds = Facts((
        constant_figure("predictor.ml.interval", "ALPHA", "Interval miss rate (90% interval)", "percent"),
        constant_figure(STATS, "CONFIDENCE", "Confidence of every interval on a figure", "percent"),
        constant_figure(STATS, "MIN_ACTUALS", "Fewest actual charges before an alert is raised", "count"),
        constant_figure(STATS, "COVERAGE_FLOOR", "Coverage alert: the Wilson upper bound below", "percent"),
        constant_figure(STATS, "BIAS_SHARE", "Bias alert: the interval of the mean error beyond this share of the mean charge", "percent"),
    ))
    return Section("4", "Appropriateness of the performance metrics", [Point("4", "Why these metrics", [
        Items((
            "Mean absolute error, in dollars: what a single estimate is typically off by, read directly against a "
            "premium; charges are skewed, so it is less dominated by the few very large bills than RMSE.",
            "RMSE and R², reported beside it: they weigh the large misses that matter for a portfolio.",
            "Bias (actual − estimate) with its interval: a systematic under- or over-estimate, overall and by group, "
            "is what would misprice a group.",
            "Coverage of the 90% interval, by interval group, with Wilson intervals: whether the stated uncertainty "
            "is honest for each kind of patient.",
            "Calibration (Σ estimate / Σ actual) and MAE by sex, age band, region and smoker: the accuracy for "
            "groups of persons that Annex IV 3 and Art. 13(3)(b) ask for.",
        )),
        thresholds,
    ])])
