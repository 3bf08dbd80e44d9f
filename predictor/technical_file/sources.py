"""Where the documents read what the product knows, each reader returning ``Figure``s that name the source:
model cards, settings, the code's constants, the installed packages, the deploy template, the URL
configuration with the API's own schema, and the management commands."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.urls import URLPattern, URLResolver, get_resolver

from ..ml.artifacts import ModelArtifactError, artifact_path_for, read_card
from ..models import ModelVersion
from .figures import Figure

TEMPLATE_PATH = Path(settings.BASE_DIR) / "deploy" / "template.yaml"
# The packages whose versions the technical file states (Annex IV 1(c)); the serving set, then training's.
PACKAGES = (
    "Django", "django-ninja", "gunicorn", "psycopg2-binary", "pycaret", "scikit-learn", "lightgbm", "pandas",
    "numpy", "scipy", "statsmodels", "PyYAML", "django-axes", "django-csp", "whitenoise",
)
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def key_path(base: str, key: str) -> str:
    """``base`` and one more key: ".key", or "['key']" for a key holding a dot ("blend_lr0.1_huber0.9")."""
    step = f"['{key}']" if "." in key or "[" in key else (f".{key}" if base else key)
    return f"{base}{step}"


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path with list indices and quoted keys ("fairness.groups[2].mae.value",
    "candidates_cv['blend_lr0.1_huber0.9'].mae"); KeyError when absent."""
    for plain, index, quoted in _STEP.findall(path):
        name = plain or quoted
        if index and not quoted:
            if not isinstance(data, (list, tuple)) or int(index) >= len(data):
                raise KeyError(path)
            data = data[int(index)]
        else:
            if not isinstance(data, dict) or name not in data:
                raise KeyError(path)
            data = data[name]
    return data


# ---------------------------------------------------------------------------
# Model cards


@dataclass(frozen=True)
class Card:
    """A model version's card as the document reads it: the row's, or the file's when the file (same
    artifact hash) holds keys the row, registered earlier, lacks (a drift reference or fairness added later)."""

    version: ModelVersion
    data: dict[str, Any]
    where: str

    @property
    def date(self) -> str:
        trained = self.data.get("trained_at") or self.version.trained_at.isoformat()
        return str(trained)[:10]

    def has(self, path: str) -> bool:
        try:
            lookup(self.data, path)
        except KeyError:
            return False
        return True

    def figure(self, path: str, label: str, kind: str = "number", digits: int | None = None) -> Figure | None:
        """The card's value at ``path`` as a figure, or None when the card has no such key."""
        try:
            value = lookup(self.data, path)
        except KeyError:
            return None
        return Figure(
            label=label, value=value, source=f"{self.where}: {path}", date=self.date, kind=kind,
            ref=("card", self.version.name, path), digits=digits,
        )


def card_of(version: ModelVersion) -> Card:
    """The card of ``version``: its row's, completed by its file's newer keys when the artifact hash matches."""
    data = dict(version.card or {})
    where = f"model card of {version.name} (database)"
    try:
        path = artifact_path_for(version.name)
        on_file = read_card(path) if Path(path).is_file() else {}
    except ModelArtifactError:
        on_file = {}
    if on_file.get("artifact_sha256") == version.sha256:
        added = {key: value for key, value in on_file.items() if key not in data}
        if added:
            data.update(added)
            where = f"model card of {version.name} ({', '.join(sorted(added))} from {Path(path).with_suffix('.json').name})"
    return Card(version=version, data=data, where=where)


# ---------------------------------------------------------------------------
# Settings, constants, packages


def now_date() -> str:
    return datetime.now(UTC).date().isoformat()


def setting_figure(name: str, label: str, kind: str = "number", value: Any = ...) -> Figure:
    """A setting in force; ``value`` when the setting needs reading (a rate's pair), else the setting itself."""
    held = getattr(settings, name) if value is ... else value
    return Figure(label=label, value=held, source=f"setting {name}", date=now_date(), kind=kind, ref=("setting", name))


def constant_figure(module: str, name: str, label: str, kind: str = "number", path: str = "") -> Figure:
    """A constant of the code (``path`` into it for a mapping's entry: "age[0]")."""
    value = getattr(importlib.import_module(module), name)
    value = lookup(value, path) if path else value
    where = f"{module.replace('.', '/')}.py: {name}{'.' + path if path else ''}"
    return Figure(label=label, value=value, source=where, date=now_date(), kind=kind, ref=("constant", module, name, path))


def installed_figures() -> list[Figure]:
    """The installed version of each package of ``PACKAGES`` (Python's own first); a package not installed is left out."""
    import platform

    figures = [Figure("Python", platform.python_version(), "platform.python_version()", now_date(), "text", ("python",))]
    for package in PACKAGES:
        try:
            found = installed_version(package)
        except PackageNotFoundError:
            continue
        figures.append(Figure(package, found, "importlib.metadata (installed)", now_date(), "text", ("installed", package)))
    return figures


# ---------------------------------------------------------------------------
# The deploy template


class _TemplateLoader(yaml.SafeLoader):
    """CloudFormation's short tags (!Ref, !Sub, !If) read as plain values: only the parameters' defaults
    and literal properties are used, never what a tag computes."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)
))


@lru_cache(maxsize=4)
def _template(path: str, mtime: float) -> dict[str, Any]:
    return yaml.load(Path(path).read_text(), Loader=_TemplateLoader)


def deploy_template() -> dict[str, Any] | None:
    """The deploy template (deploy/template.yaml), or None where it is not installed (the container image)."""
    if not TEMPLATE_PATH.is_file():
        return None
    return _template(str(TEMPLATE_PATH), TEMPLATE_PATH.stat().st_mtime)


def template_figure(path: str, label: str, kind: str = "text") -> Figure | None:
    template = deploy_template()
    if template is None:
        return None
    try:
        value = lookup(template, path)
    except KeyError:
        return None
    date = datetime.fromtimestamp(TEMPLATE_PATH.stat().st_mtime, UTC).date().isoformat()
    return Figure(label=label, value=value, source=f"deploy/template.yaml: {path}", date=date, kind=kind, ref=("template", path))


# ---------------------------------------------------------------------------
# Entry points: routes, the API's schema, commands


def routes() -> list[tuple[str, str, str]]:
    """Every route of the site as (path, namespace, URL name), read from the URL configuration."""

    def walk(patterns, prefix: str, namespace: str) -> list[tuple[str, str, str]]:
        found = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                found.append(("/" + prefix + str(pattern.pattern), namespace, pattern.name or ""))
        return found

    return walk(get_resolver().url_patterns, "", "")


def api_operations() -> list[tuple[str, str, str]]:
    """The JSON API's operations as (method, path, summary), from its own OpenAPI schema (reached through the
    URL configuration, so this package does not import the API)."""
    for pattern in _patterns(get_resolver().url_patterns):
        api = getattr(getattr(pattern, "callback", None), "keywords", {}).get("api")
        if api is not None:
            schema = api.get_openapi_schema()
            return [
                (method.upper(), path, operation.get("summary", ""))
                for path, methods in schema["paths"].items()
                for method, operation in methods.items()
            ]
    return []


def _patterns(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns)
        else:
            yield pattern


def commands() -> list[tuple[str, str]]:
    """The predictor's management commands as (name, first line of its help)."""
    found = []
    for name, app in sorted(get_commands().items()):
        if app == "predictor":
            help_text = (load_command_class(app, name).help or "").strip()
            found.append((name, help_text.split("\n")[0].split(". ")[0].rstrip(".")))
    return found
