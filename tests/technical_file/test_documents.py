"""documents: on the issue's scenario, the technical file has Annex IV's nine sections, and every figure it
prints equals its source, read again here independently (the card rows, settings, the installed packages,
the deploy template through cfn-lint's own parser, and the accuracy recomputed with scikit-learn, scipy and
statsmodels from the stored rows)."""

import html
import importlib
import platform
import re
from functools import cache
from importlib.metadata import version as installed_version
from io import StringIO

import numpy as np
import pytest
from cfnlint.decode import decode_str
from django.conf import settings
from django.core.management import call_command
from scipy.stats import ttest_1samp
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from statsmodels.stats.proportion import proportion_confint

from deploy.aws import TEMPLATE_PATH
from predictor.ml.artifacts import artifact_path_for, read_card
from predictor.models import ModelChange, ModelVersion, Prediction
from predictor.technical_file import context_build, document_render, instructions_build, technical_file_build
from predictor.technical_file.figures import Figure, Missing, Table
from predictor.technical_file.provider import provider_read
from predictor.technical_file.sources import lookup

ANNEX_IV = [
    "General description of the AI system",
    "Elements of the AI system and the process of its development",
    "Monitoring, functioning and control",
    "Appropriateness of the performance metrics",
    "Risk-management system (Art. 9)",
    "Changes through the lifecycle",
    "Standards applied",
    "EU declaration of conformity (Art. 47)",
    "Post-market monitoring (Art. 72)",
]
CENT = 0.0051  # figures of money are rounded to the cent
SHARE = 0.00005  # shares to four decimals


@pytest.fixture
def built(scenario, provider_file):
    provider_file()
    context = context_build()
    return context, technical_file_build(context), instructions_build(context)


def test_the_technical_file_has_annex_ivs_nine_sections_in_order_in_markdown_and_html(built):
    context, document, _ = built
    markdown = document_render(document, "md")
    assert re.findall(r"^## (\d)\. (.+)$", markdown, re.MULTILINE) == [(str(n), t) for n, t in enumerate(ANNEX_IV, 1)]
    page = document_render(document, "html")
    assert re.findall(r"<h2>(\d)\. (.+?)</h2>", page) == [(str(n), html.escape(t)) for n, t in enumerate(ANNEX_IV, 1)]
    out = StringIO()
    call_command("technical_file", "--format", "md", stdout=out, stderr=StringIO())  # the command prints the same
    assert re.findall(r"^## (\d)\. (.+)$", out.getvalue(), re.MULTILINE) == [(str(n), t) for n, t in enumerate(ANNEX_IV, 1)]
    points = [point.number for section in document.sections for point in section.points]
    for number in ("1(a)", "1(c)", "1(d)", "2(a)", "2(b)", "2(d)", "2(g)", "2(h)", "3(b)", "3(e)", "3(f)", "4", "6", "9(a)", "9(c)"):
        assert number in points
    # The scenario's figures: every patient with an actual charge, the card's holdout, the two model changes.
    figures = {figure.ref: figure for figure in document.figures()}
    assert figures[("live", "overall", "all", "n")].value == 1338
    assert figures[("live", "report", "all", "predictions")].value == 1338
    assert figures[("card", "huber-blend-v2", "holdout.mae")].text == "$1,565.67"
    kinds = [figures[ref].value for ref in figures if ref[:2] == ("database", "model_change") and ref[3] == "kind"]
    assert kinds == ["champion", "challenger_set"]  # the start-up step's, then the scenario's change
    reasons = [figures[ref].value for ref in figures if ref[:2] == ("database", "model_change") and ref[3] == "reason"]
    assert reasons[-1] == "compare the older blend on stored patients"




def card_value(ref: tuple):
    """A card figure's source: the registered row's card, or for a key it lacks, the card file of the same artifact."""
    _, name, path = ref
    version = ModelVersion.objects.get(name=name)
    try:
        return lookup(version.card, path)
    except KeyError:
        on_file = read_card(artifact_path_for(name))
        assert on_file["artifact_sha256"] == version.sha256
        return lookup(on_file, path)


@cache
def template() -> dict:
    decoded, matches = decode_str(TEMPLATE_PATH.read_text())
    assert not matches
    return decoded


@cache
def stored(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rows = Prediction.objects.filter(actual_charges__isnull=False, **SLICES[key]).values_list(
        "actual_charges", "predicted_charges", "predicted_charges_low", "predicted_charges_high")
    return tuple(np.array([float(row[i]) for row in rows]) for i in range(4))


SLICES = {
    "all": {},
    "northeast": {"region": "northeast"}, "northwest": {"region": "northwest"},
    "southeast": {"region": "southeast"}, "southwest": {"region": "southwest"},
    "smoker_obese": {"smoker": "yes", "bmi__gt": 30}, "smoker_not_obese": {"smoker": "yes", "bmi__lte": 30},
    "non_smoker_obese": {"smoker": "no", "bmi__gt": 30}, "non_smoker_not_obese": {"smoker": "no", "bmi__lte": 30},
}


def live_value(ref: tuple):
    """A live figure recomputed from the stored rows with scikit-learn, scipy and statsmodels."""
    _, kind, key, measure = ref
    if kind == "out_of_range":
        card = ModelVersion.objects.get(active=True).card["training_ranges"]
        rows = list(Prediction.objects.values_list("age", "bmi", "children"))
        outside = [[not (card[n][0] <= value <= card[n][1]) for n, value in zip(("age", "bmi", "children"), row)] for row in rows]
        if key == "any":
            return sum(any(row) for row in outside) / len(rows)
        return sum(row[("age", "bmi", "children").index(key)] for row in outside) / len(rows)
    if kind == "report":
        if measure == "predictions":
            return Prediction.objects.count()
        return None  # the count of alerts: checked against the listed alerts below
    actual, predicted, low, high = stored(key)
    errors = actual - predicted
    if measure == "n":
        return len(actual)
    if measure == "mae":
        return mean_absolute_error(actual, predicted)
    if measure == "rmse":
        return mean_squared_error(actual, predicted) ** 0.5
    if measure == "r2":
        return r2_score(actual, predicted)
    interval = ttest_1samp(errors, 0).confidence_interval(0.95)
    inside = int(((actual >= low) & (actual <= high)).sum())
    wilson = proportion_confint(inside, len(actual), alpha=0.05, method="wilson")
    return {
        "bias": errors.mean(), "bias_low": interval.low, "bias_high": interval.high,
        "coverage": inside / len(actual), "coverage_low": wilson[0], "coverage_high": wilson[1],
    }[measure]


def source_value(figure: Figure, provider):
    kind, *rest = figure.ref
    if kind == "card":
        return card_value(figure.ref)
    if kind == "setting":
        name = rest[0]
        return settings.LOGGING["root"]["level"] if name == "LOGGING.root.level" else getattr(settings, name)
    if kind == "constant":
        module, name, path = rest
        value = getattr(importlib.import_module(module), name)
        return lookup(value, path) if path else value
    if kind == "installed":
        return installed_version(rest[0])
    if kind == "python":
        return platform.python_version()
    if kind == "template":
        return lookup(template(), rest[0])
    if kind == "provider":
        value = provider.get(rest[0])
        return "; ".join(value) or "none" if isinstance(value, list) else value
    if kind == "database" and rest[0] == "model_version":
        version = ModelVersion.objects.get(name=rest[1])
        value = getattr(version, rest[2])
        return value.isoformat() if hasattr(value, "isoformat") else value
    if kind == "database" and rest[0] == "model_change":
        change = ModelChange.objects.get(pk=rest[1])
        value = getattr(change, rest[2])
        if rest[2] in ("from_version", "to_version"):
            return value.name if value else None
        if rest[2] == "username":
            return value or "(a command)"
        if rest[2] == "reason":
            return value or "(none given)"
        return value.isoformat() if hasattr(value, "isoformat") else value
    if kind == "live":
        return live_value(figure.ref)
    raise AssertionError(f"a figure with an unknown source: {figure}")


def test_every_figure_of_both_documents_equals_its_source_and_is_printed_with_its_source_and_date(built):
    context, *documents = built
    provider = provider_read()
    stored.cache_clear()  # the rows of this test's database
    checked = 0
    for document in documents:
        markdown = document_render(document, "md")
        page = document_render(document, "html")
        for figure in document.figures():
            assert figure.source and re.fullmatch(r"\d{4}-\d{2}-\d{2}", figure.date), figure
            expected = source_value(figure, provider)
            if figure.ref[:2] == ("live", "report") and figure.ref[3] == "raised":
                expected = len(context.report.alerts) + len(context.report.flags)
            if isinstance(expected, float) and not isinstance(figure.value, str):
                tolerance = CENT if figure.kind == "money" else SHARE if figure.ref[0] == "live" else 0
                assert figure.value == pytest.approx(expected, abs=tolerance), figure
            else:
                assert figure.value == expected, figure
            text = figure.text.replace("|", "\\|")
            assert text in markdown, figure
            assert html.escape(figure.text) in page, figure
            checked += 1
        for block in document.blocks():  # a table names its source and date in its caption
            if isinstance(block, Table):
                assert f"(source: {block.source}; {block.date})" in markdown
    assert checked > 400


def test_with_a_complete_provider_file_only_the_products_own_gaps_are_missing(db, provider_file):
    provider_file()
    context = context_build()
    document, instructions = technical_file_build(context), instructions_build(context)
    missing = [block.what for block in [*document.missing, *instructions.missing]]
    assert not [what for what in missing if what.startswith("`")]  # a provider field is named `key`
    # What the product itself lacks is said visibly: nothing has actual charges on this fresh database, and
    # a card without the fairness key (issue 23 writes it) says so where the figures belong.
    assert "accuracy in service" in missing
    if "fairness" not in context.card.data:
        assert "the decision on `sex`: its measured cost" in missing
        assert "> **MISSING:** fairness by group" in document_render(document, "md")


def test_without_a_provider_file_each_of_its_parts_says_missing_where_it_belongs(db, no_provider_file):
    document = technical_file_build(context_build())
    by_point = {point.number: [b.what for b in point.blocks if isinstance(b, Missing)]
                for section in document.sections for point in section.points}
    assert "`provider.name`" in by_point["1(a)"]
    assert by_point["5"] == ["`risk_management.description`", "`risk_management.reviewed_on`"]
    assert by_point["7"] == ["`standards.harmonised`"]
    assert "`declaration_of_conformity.signatory`" in by_point["8"]
    assert "`post_market.responsible`" in by_point["9(a)"]


FAIRNESS = {  # the card's `fairness` key in issue 23's shape, hand-written
    "groups": [
        {"dimension": "sex", "group": "female", "n": 662, "mae": {"value": 1650.5, "low": 1500.25, "high": 1800.75},
         "bias": {"value": -120.0, "low": -300.5, "high": 60.5}, "calibration": {"value": 1.01, "low": 0.98, "high": 1.04},
         "coverage": {"value": 0.91, "low": 0.89, "high": 0.93}},
        {"dimension": "sex x smoker", "group": "female smoker", "n": 12, "mae": {"value": 900.0, "low": None, "high": None},
         "bias": {"value": 10.0, "low": None, "high": None}, "calibration": {"value": 1.0, "low": None, "high": None},
         "coverage": {"value": 0.75, "low": None, "high": None}},
    ],
    "variants": {
        "unaware": {"mae": 1801.2, "bias_by_sex": {"female": -35.5, "male": 40.25},
                    "difference": {"mean": 12.5, "low": 3.25, "high": 21.75}},
        "discrimination_free": {"mae": 1799.0, "bias_by_sex": {"female": -30.0, "male": 33.0},
                                "difference": {"mean": 1.5, "low": -0.5, "high": 3.5}},
    },
    "leakage": {"auc": 0.512, "mean_abs_gap": {"overall": 21.5, "female": 20.0, "male": 23.0}},
}


def test_a_cards_fairness_key_fills_the_groups_the_variants_and_the_leakage(db, no_provider_file):
    version = ModelVersion.objects.get(active=True)
    ModelVersion.objects.filter(pk=version.pk).update(card={**version.card, "fairness": FAIRNESS})
    document = technical_file_build(context_build())
    markdown = document_render(document, "md")
    assert "| sex | female | 662 | $1,650.50 ($1,500.25 to $1,800.75) | -$120.00 (-$300.50 to $60.50) | 1.01 (0.98 to 1.04) | 91.0% (89.0% to 93.0%) |" in markdown
    assert "| sex x smoker | female smoker | 12 | $900.00 (under 30 rows: no interval) |" in markdown
    assert "| unaware | $1,801.20 | -$35.50 | $40.25 | $12.50 ($3.25 to $21.75) |" in markdown
    assert "| Proxy leakage: AUC of predicting `sex` from the other inputs | 0.512 |" in markdown
    assert "| Mean \\|unaware − discrimination-free\\|, male | $23.00 |" in markdown
    assert not any("fairness" in block.what for block in document.missing)
    for figure in document.figures():
        if figure.ref[:1] == ("card",) and "fairness" in figure.ref[2]:
            assert figure.value == lookup(FAIRNESS, figure.ref[2].removeprefix("fairness."))
