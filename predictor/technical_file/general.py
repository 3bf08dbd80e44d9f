"""Annex IV, section 1: a general description of the AI system, points (a) to (h)."""

from __future__ import annotations

from ..models import Prediction
from .context import Context
from .figures import Facts, Figure, Items, Missing, Point, Section, Table, Text
from .sources import api_operations, commands, installed_figures, routes, template_figure

PURPOSE = (
    "The system estimates a person's yearly medical insurance charges, in US dollars, from six facts about "
    "them (age, sex, BMI, children covered, smoker, region), with a 90% prediction interval. Annex III 5(c) "
    "lists risk assessment and pricing in health insurance as high-risk."
)


def provider_missing(context: Context, *keys: str) -> list[Missing]:
    """A visible Missing block for each of ``keys`` the provider file lacks."""
    where = f"the provider file {context.provider.path}" + ("" if context.provider.exists else " (there is none)")
    return [
        Missing(f"`{key}`", f"Write it in {where} (PREDICTOR_TECHNICAL_FILE_PROVIDER); technical_file.example.yaml shows how.")
        for key in keys
        if key in context.provider.missing
    ]


def provider_facts(context: Context, labels: dict[str, str]) -> list[Facts | Missing]:
    rows = [
        Figure(label, context.provider.get(key) if not isinstance(context.provider.get(key), list)
               else "; ".join(context.provider.get(key)) or "none",
               f"provider file: {key}", context.date, "text", ("provider", key))
        for key, label in labels.items()
        if context.provider.get(key) not in (None, "")
    ]
    return [*([Facts(tuple(rows))] if rows else []), *provider_missing(context, *labels)]


def point_a(context: Context) -> Point:
    point = Point("1(a)", "Intended purpose, provider, and the versions with their relation to earlier ones")
    point.blocks.append(Text(PURPOSE))
    point.blocks += provider_facts(context, {
        "intended_purpose": "Intended purpose (provider's statement)",
        "provider.name": "Provider", "provider.address": "Address", "provider.contact": "Contact",
        "provider.authorised_representative": "Authorised representative",
    })
    if not context.versions:
        point.blocks.append(Missing("model versions", "No model version is registered yet: the start-up step activates one."))
        return point
    rows = []
    for version in context.versions:
        def cell(field: str, kind: str = "text", value=None) -> Figure:
            held = getattr(version, field) if value is None else value
            return Figure(field, held, "database: predictor_modelversion", context.date, kind,
                          ("database", "model_version", version.name, field))

        role = "champion (serving)" if version.active else "challenger" if version.challenger else "not serving"
        rows.append((cell("name"), cell("sha256", value=version.sha256), cell("trained_at", value=version.trained_at.isoformat()),
                     cell("registered_at", value=version.registered_at.isoformat()), role,
                     (version.card or {}).get("estimator", "")))
    point.blocks.append(Table(
        "Model versions registered (the champion serves; the relation between them is the change history, section 6)",
        ("Version", "Artifact SHA-256", "Trained", "Registered", "Role", "Estimator"), tuple(rows),
        "database: predictor_modelversion", context.date,
    ))
    if context.changes:
        last = context.changes[-1]
        point.blocks.append(Text(
            f"{len(context.changes)} recorded model changes relate the versions; the latest, on "
            f"{last.created_at:%Y-%m-%d}, made {last.to_version or 'no version'} {last.get_kind_display().lower()}."
        ))
    return point


def point_b(context: Context) -> Point:
    return Point("1(b)", "Interaction with other hardware or software", [Items((
        "A PostgreSQL database stores every prediction, actual charge, model change and access (django settings DATABASES).",
        "Other systems call the JSON API (section 1(d)) with an API token, or send CSV files of patients.",
        "It does not call other AI systems; the model runs in the same process (PyCaret and scikit-learn).",
    ))])


def point_c(context: Context) -> Point:
    point = Point("1(c)", "Versions of the software, and requirements for updates")
    point.blocks.append(Facts(tuple(installed_figures())))
    if context.card is not None:
        trained = [context.card.figure(f"versions.{name}", f"{name} (at training)", "text")
                   for name in (context.card.data.get("versions") or {})]
        point.blocks.append(Facts(tuple(figure for figure in trained if figure is not None)))
    point.blocks.append(Text(
        "Every package is pinned in requirements-serve.txt (the image) and requirements.txt (training). A model "
        "artifact is served only when its SHA-256 matches its card; a library at another version than the card's "
        "is reported by model_info. A new model version is trained with train_model and made to serve explicitly."
    ))
    return point


def point_d(context: Context) -> Point:
    point = Point("1(d)", "The forms in which it is put into service")
    web = [route for route, namespace, name in routes() if namespace == "predictor" and name in ("predict", "result")]
    point.blocks.append(Items(tuple(
        [f"Web form for the public: {', '.join(f'`{route}`' for route in web)} (source `{Prediction.Source.WEB}`)."]
        + [f"JSON API: `{method} {path}` {summary}" for method, path, summary in api_operations()]
        + ["Batch files: the staff page `/admin/predictor/batch/upload/` and `manage.py predict_csv` (source `batch`)."]
    )))
    point.blocks.append(Table(
        "Management commands (`python manage.py NAME`)", ("Command", "What it does"),
        tuple((name, help_text) for name, help_text in commands()), "django.core.management.get_commands()", context.date,
    ))
    point.blocks.append(Text("It ships as a container image (Dockerfile) run on AWS Fargate from deploy/template.yaml."))
    return point


def point_e(context: Context) -> Point:
    figures = [
        template_figure(path, label, "text") for path, label in (
            ("Parameters.TaskCpu.Default", "CPU units per task (default; 1024 = 1 vCPU)"),
            ("Parameters.TaskMemory.Default", "Memory per task in MiB (default)"),
            ("Parameters.DesiredCount.Default", "Tasks running (default)"),
            ("Parameters.DBInstanceClass.Default", "Database instance class (default)"),
        )
    ]
    point = Point("1(e)", "The hardware it is intended to run on")
    if None in figures:
        point.blocks.append(Missing("the deploy template's hardware", "deploy/template.yaml is not installed here "
                                    "(the container image leaves it out): run the command from a checkout."))
    else:
        point.blocks.append(Facts(tuple(figures)))
    point.blocks.append(Text("Any x86-64 or arm64 host that runs the container image; no GPU is used."))
    return point


def section_1(context: Context) -> Section:
    return Section("1", "General description of the AI system", [
        point_a(context), point_b(context), point_c(context), point_d(context), point_e(context),
        Point("1(f)", "Photographs or illustrations of products it is a component of", [
            Text("Not applicable: a software service, not a component of a physical product.")]),
        Point("1(g)", "The user interface provided to the deployer", [Items((
            "The public web form and its result page, with the estimate, its interval and what drives it.",
            "The staff console (Django's admin): prediction history, monitoring, forecasts, actual charges, "
            "model versions, model changes, the access log and this technical file.",
        ))]),
        Point("1(h)", "Instructions for use", [Text(
            "Generated with this file from the same data: instructions-for-use (`manage.py technical_file --out DIR` "
            "writes both; the staff page offers both).")]),
    ])
