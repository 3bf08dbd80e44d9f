"""Annex IV, section 2: the elements of the system and how it was developed, points (a) to (h), from the
champion's model card, the settings and the deploy template."""

from __future__ import annotations

from ..ml.interval import interval_group_label
from .context import Context
from .figures import Estimate, Facts, Figure, Items, Missing, Point, Section, Table, Text
from .general import provider_facts
from .oversight import facility_blocks
from .sources import Card, key_path, setting_figure, template_figure

NO_CARD = Missing("the champion's model card", "No model version is active: `manage.py activate_model` makes one serve.")
NO_FAIRNESS = (
    "The champion's model card has no `fairness` key (figures by group, the variants without `sex`, proxy "
    "leakage): retrain with a train_model that writes it, or add it to the card."
)


def facts(card: Card, rows: list[tuple[str, str, str]]) -> Facts:
    """A Facts block of the card's figures at (path, label, kind); absent keys are left out."""
    return Facts(tuple(figure for path, label, kind in rows if (figure := card.figure(path, label, kind)) is not None))


def interval_estimate(card: Card, path: str, label: str, kind: str) -> Estimate | None:
    """The card's {value, low, high} at ``path`` as an Estimate (no interval for small groups)."""
    value = card.figure(f"{path}.value", label, kind)
    if value is None:
        value = card.figure(path, label, kind)  # a bare number
        return None if value is None or isinstance(value.value, dict) else Estimate(value)
    low, high = card.figure(f"{path}.low", f"{label} (low)", kind), card.figure(f"{path}.high", f"{label} (high)", kind)
    if low is not None and low.value is None:
        low = high = None
    return Estimate(value, low, high, note="under 30 rows: no interval")


def point_a(card: Card) -> Point:
    point = Point("2(a)", "Methods and steps of development")
    point.blocks.append(facts(card, [
        ("estimator", "Estimator", "text"), ("estimator_class", "Estimator class", "text"),
        ("selection", "How it was chosen", "text"), ("setup.holdout_fraction", "Share held out for testing", "percent"),
        ("setup.session_id", "Random seed", "count"), ("versions.pycaret", "Third-party tool: PyCaret", "text"),
        ("training_seconds", "Training time", "seconds"),
    ]))
    candidates = card.data.get("candidates_cv") or {}
    point.blocks.append(Table(
        "Candidates compared by 10-fold cross-validation on the 70% training part",
        ("Candidate", "R²", "MAE", "RMSE"),
        tuple((name, card.figure(f"{key_path('candidates_cv', name)}.r2", "R²"),
               card.figure(f"{key_path('candidates_cv', name)}.mae", "MAE", "money"),
               card.figure(f"{key_path('candidates_cv', name)}.rmse", "RMSE", "money")) for name in candidates),
        f"{card.where}: candidates_cv", card.date,
    ))
    return point


def point_b(card: Card) -> Point:
    point = Point("2(b)", "Design choices: inputs, estimator, interval, and the decision on `sex`")
    point.blocks.append(facts(card, [
        ("features", "Inputs", "text"), ("model_features", "Features the estimator sees", "text"),
        ("interval.method", "Interval method", "text"), ("interval.alpha", "Interval miss rate (alpha)", "percent"),
        ("interval.group_by", "Interval groups", "text"), ("distribution.method", "Cohort distribution method", "text"),
    ]))
    groups = (card.data.get("interval") or {}).get("groups") or {}
    point.blocks.append(Table(
        "The interval's offsets by group, calibrated on out-of-fold residuals",
        ("Group", "Offset low", "Offset high", "Training rows", "Level"),
        tuple((str(interval_group_label(name)), card.figure(f"interval.groups.{name}.low", "low", "money", 0),
               card.figure(f"interval.groups.{name}.high", "high", "money", 0),
               card.figure(f"interval.groups.{name}.n", "n", "count"),
               card.figure(f"interval.groups.{name}.level", "level", "percent", 2)) for name in groups),
        f"{card.where}: interval.groups", card.date,
    ))
    uses_sex = "sex" in (card.data.get("features") or [])
    point.blocks.append(Text(
        f"`sex` {'is' if uses_sex else 'is not'} an input of the served model. Its measured cost, on the same "
        "repeated splits: the served model against the variants without it."
    ))
    point.blocks += variants_blocks(card)
    return point


def variants_blocks(card: Card) -> list:
    if not card.has("fairness"):
        return [Missing("the decision on `sex`: its measured cost", NO_FAIRNESS)]
    variants = card.data["fairness"].get("variants") or {}
    sexes = sorted({sex for variant in variants.values() for sex in (variant.get("bias_by_sex") or {})})
    rows = []
    for name in variants:
        base = f"fairness.variants.{name}"
        difference = Estimate(card.figure(f"{base}.difference.mean", "difference", "money"),
                              card.figure(f"{base}.difference.low", "difference (low)", "money"),
                              card.figure(f"{base}.difference.high", "difference (high)", "money"))
        rows.append((
            name.replace("_", " "),
            interval_estimate(card, f"{base}.mae", "MAE", "money") or "",
            *(interval_estimate(card, f"{base}.bias_by_sex.{sex}", f"bias {sex}", "money") or "" for sex in sexes),
            difference if difference.value is not None else "",
        ))
    blocks: list = [Table(
        "Variants on the same splits: MAE, bias by sex, and the paired difference in absolute error against the "
        "served model (95% interval)", ("Variant", "MAE", *(f"Bias, {sex}" for sex in sexes), "Difference in |error|"),
        tuple(rows), f"{card.where}: fairness.variants", card.date,
    )]
    leakage = [card.figure("fairness.leakage.auc", "Proxy leakage: AUC of predicting `sex` from the other inputs", "number")]
    leakage += leaf_figures(card, "fairness.leakage.mean_abs_gap", "Mean |unaware − discrimination-free|", "money")
    blocks.append(Facts(tuple(figure for figure in leakage if figure is not None)))
    return blocks


def leaf_figures(card: Card, path: str, label: str, kind: str) -> list[Figure]:
    """The number at ``path``, or each number under it when it is a mapping ("overall", "female", ...)."""
    if not card.has(path):
        return []
    figure = card.figure(path, label, kind)
    if not isinstance(figure.value, dict):
        return [figure]
    return [leaf for key in figure.value for leaf in leaf_figures(card, f"{path}.{key}", f"{label}, {key}", kind)]


def point_d(card: Card) -> Point:
    point = Point("2(d)", "Training data: provenance, fingerprint, rows, ranges, distributions")
    point.blocks.append(facts(card, [
        ("data.file", "File", "text"), ("data.sha256", "SHA-256 of the file", "text"), ("data.rows", "Rows", "count"),
        ("drift_reference.fingerprints.method", "Row fingerprint method", "text"),
        *((f"training_ranges.{name}[{end}]", f"{name} {'lowest' if end == 0 else 'highest'}", "number")
          for name in (card.data.get("training_ranges") or {}) for end in (0, 1)),
    ]))
    point.blocks.append(Text(
        "Provenance: the public Medical Cost Personal Datasets (insurance.csv, 1,338 US beneficiaries), used as "
        "published; charges are the label, as billed. Rows are not cleaned or relabelled; the fingerprint identifies "
        "each training row so that monitoring can tell in-sample actuals apart."
    ))
    for name, spec in ((card.data.get("drift_reference") or {}).get("inputs") or {}).items():
        base = f"drift_reference.inputs.{name}"
        if spec.get("kind") == "categorical":
            labels = [str(category) for category in spec.get("categories", [])]
        else:
            edges = spec.get("edges", [])
            labels = [f"< {edges[0]}"] + [f"{a} to < {b}" for a, b in zip(edges, edges[1:])] + [f">= {edges[-1]}"] if edges else []
        point.blocks.append(Table(
            f"Distribution of {name} in the training data", ("Bin", "Rows"),
            tuple((label, card.figure(f"{base}.counts[{index}]", f"{name} {label}", "count")) for index, label in enumerate(labels)),
            f"{card.where}: {base}", card.date,
        ))
    return point


def point_g(context: Context, card: Card) -> Point:
    point = Point("2(g)", "Validation and testing, with dates")
    point.blocks.append(Text(f"Every figure here was computed when the model was trained, on {card.date}."))
    point.blocks.append(facts(card, [
        ("holdout.rows", "Holdout rows (30%, never used in training)", "count"), ("holdout.r2", "Holdout R²", "number"),
        ("holdout.mae", "Holdout MAE", "money"), ("holdout.rmse", "Holdout RMSE", "money"),
        ("holdout.interval_coverage", "Holdout 90% interval coverage", "percent"),
        ("cv.r2", "10-fold CV R²", "number"), ("cv.mae", "10-fold CV MAE", "money"),
        ("interval_calibration.repetitions", "Repeated random 70/30 splits", "count"),
        ("interval_calibration.overall.coverage", "Interval coverage averaged over the splits", "percent"),
        ("interval_calibration.overall.min", "Lowest split's coverage", "percent"),
        ("interval_calibration.overall.max", "Highest split's coverage", "percent"),
    ]))
    cohorts = card.data.get("cohort_calibration") or {}
    point.blocks.append(Table(
        "Cohort forecasts: coverage of the 90% interval of a cohort's total", ("Patients", "Repetitions", "Coverage 90%", "Coverage 50%"),
        tuple((card.figure(f"cohort_calibration.{size}.patients", "patients", "count"),
               card.figure(f"cohort_calibration.{size}.repetitions", "repetitions", "count"),
               card.figure(f"cohort_calibration.{size}.coverage_90", "coverage 90", "percent"),
               card.figure(f"cohort_calibration.{size}.coverage_50", "coverage 50", "percent")) for size in cohorts),
        f"{card.where}: cohort_calibration", card.date,
    ))
    point.blocks += fairness_groups(card)
    point.blocks += provider_facts(context, {"validation.signed_by": "Test reports signed by", "validation.signed_on": "Signed on"})
    return point


def fairness_groups(card: Card) -> list:
    if not card.has("fairness.groups"):
        return [Missing("fairness by group (potentially discriminatory impacts)", NO_FAIRNESS)]
    rows = []
    for index, group in enumerate(card.data["fairness"]["groups"]):
        base = f"fairness.groups[{index}]"
        rows.append((str(group.get("dimension", "")), str(group.get("group", "")), card.figure(f"{base}.n", "n", "count"),
                     *(interval_estimate(card, f"{base}.{name}", name, kind) or "" for name, kind in
                       (("mae", "money"), ("bias", "money"), ("calibration", "number"), ("coverage", "percent")))))
    return [Table(
        "Accuracy by group on out-of-fold rows of the repeated splits (95% stratified bootstrap intervals)",
        ("Dimension", "Group", "n", "MAE", "Bias", "Calibration (Σ estimate / Σ actual)", "90% coverage"), tuple(rows),
        f"{card.where}: fairness.groups", card.date,
    )]


def point_h(context: Context) -> Point:
    anon, token = context_rates()
    rows = [
        setting_figure("SECURE_SSL_REDIRECT", "Plain http redirected to https", "flag"),
        setting_figure("SECURE_HSTS_SECONDS", "HSTS max-age (seconds)", "count"),
        setting_figure("SESSION_COOKIE_SECURE", "Session cookie only over https", "flag"),
        setting_figure("CSRF_COOKIE_SECURE", "CSRF cookie only over https", "flag"),
        setting_figure("X_FRAME_OPTIONS", "X-Frame-Options", "text"),
        setting_figure("AXES_FAILURE_LIMIT", "Failed sign-ins before a lockout", "count"),
        anon, token,
        setting_figure("PREDICTOR_API_MAX_BODY_BYTES", "Largest API request body (bytes)", "count"),
    ]
    template = [template_figure(path, label, kind) for path, label, kind in (
        ("Parameters.EnableWaf.Default", "AWS WAF on the load balancer (default)", "text"),
        ("Parameters.WafRateLimit.Default", "WAF requests per client IP per 5 minutes (default)", "count"),
        ("Parameters.RepositoryEncryption.Default", "Image repository encryption (default)", "text"),
        ("Resources.Database.Properties.StorageEncrypted", "Database storage encrypted", "flag"),
        ("Resources.Database.Properties.BackupRetentionPeriod", "Database backups kept (days)", "count"),
    )]
    point = Point("2(h)", "Cybersecurity measures", [Facts(tuple(rows))])
    if None in template:
        point.blocks.append(Missing("the deploy template's security settings", "deploy/template.yaml is not installed here."))
    else:
        point.blocks.append(Facts(tuple(template)))
    point.blocks.append(Items((
        "A Content-Security-Policy on every response allows only this site's own scripts and styles.",
        "API tokens are stored as SHA-256 hashes; every staff read of health data is written to the access log first.",
        "The model artifact is loaded only when its SHA-256 matches its card.",
        "The container runs as an unprivileged user; secrets come from AWS Secrets Manager.",
    )))
    return point


def context_rates() -> tuple[Figure, Figure]:
    return (
        setting_figure("PREDICTOR_RATE_LIMIT_ANON", "Rate limit per client address", "rate"),
        setting_figure("PREDICTOR_RATE_LIMIT_TOKEN", "Rate limit per API token or staff user", "rate"),
    )


def section_2(context: Context) -> Section:
    card = context.card
    section = Section("2", "Elements of the AI system and the process of its development")
    if card is None:
        section.points = [Point(number, title, [NO_CARD]) for number, title in (
            ("2(a)", "Methods and steps of development"), ("2(b)", "Design choices"), ("2(d)", "Training data"),
            ("2(g)", "Validation and testing"))]
        section.points[2:2] = [architecture()]
        section.points[3:3] = [oversight_point(), predetermined()]
        section.points.append(point_h(context))
        return section
    section.points = [
        point_a(card), point_b(card),
        architecture(), point_d(card), oversight_point(), predetermined(), point_g(context, card), point_h(context),
    ]
    return section


def architecture() -> Point:
    return Point("2(c)", "System architecture", [Text(
        "One prediction service behind every entry point validates the six inputs (predictor/forms.py), calls "
        "the model (predictor/ml/), and stores the inputs, the estimate, its interval and the model version in "
        "one transaction. Monitoring, forecasts and this file read what is stored.")])


def oversight_point() -> Point:
    return Point("2(e)", "Human oversight measures (Art. 14)", facility_blocks())


def predetermined() -> Point:
    return Point("2(f)", "Pre-determined changes", [Text(
        "None: the model never changes by itself. A new version serves only when staff make it serve, and each "
        "change is recorded (section 6).")])
