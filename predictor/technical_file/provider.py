"""What only people can write: the provider file (``technical_file.yaml``), read and checked.

Its path is the setting ``PREDICTOR_TECHNICAL_FILE_PROVIDER`` (default: ``technical_file.yaml`` in the
project folder); ``technical_file.example.yaml`` is a filled-in example. ``FIELDS`` is its whole
schema: every key, its kind and whether the document needs it. A missing file or an empty or absent
value is *missing* (the documents say so where it belongs, and ``manage.py technical_file --check``
lists it); a file that is not this schema is *malformed* and refused with the line and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings


@dataclass(frozen=True)
class ProviderField:
    kind: str  # text, date or list (of text)
    required: bool
    means: str


FIELDS = {
    "provider.name": ProviderField("text", True, "the provider's registered name (Annex IV 1(a), Art. 13(3)(a))"),
    "provider.address": ProviderField("text", True, "the provider's postal address"),
    "provider.contact": ProviderField("text", True, "a contact for deployers and authorities (email or telephone)"),
    "provider.authorised_representative": ProviderField("text", False, "the EU authorised representative, if any"),
    "intended_purpose": ProviderField("text", True, "the intended purpose, as the provider states it (Art. 3(12))"),
    "risk_management.description": ProviderField("text", True, "the risk-management system of Art. 9 (Annex IV 5)"),
    "risk_management.reviewed_on": ProviderField("date", True, "when the risk-management system was last reviewed"),
    "standards.harmonised": ProviderField(
        "list", True, "harmonised standards applied in full or in part (Annex IV 7); [] when none"
    ),
    "standards.other": ProviderField("list", False, "other standards and technical specifications applied"),
    "standards.solutions": ProviderField(
        "text", False, "without harmonised standards: the solutions adopted for Chapter III, Section 2 (Annex IV 7)"
    ),
    "declaration_of_conformity.reference": ProviderField("text", True, "the EU declaration of conformity (Art. 47)"),
    "declaration_of_conformity.date": ProviderField("date", True, "the date the declaration was signed"),
    "declaration_of_conformity.signatory": ProviderField("text", True, "who signed the declaration, and their role"),
    "validation.signed_by": ProviderField("text", True, "who signs the test reports of Annex IV 2(g)"),
    "validation.signed_on": ProviderField("date", True, "when they signed them"),
    "post_market.responsible": ProviderField("text", True, "who acts on the monitoring alerts (Art. 72)"),
    "lifetime.expected": ProviderField("text", True, "the expected lifetime of the system (Art. 13(3)(e))"),
}
SECTIONS = {key.split(".")[0] for key in FIELDS if "." in key}


class ProviderFileError(ValueError):
    """The provider file is not valid YAML or not the schema; the message names the line and the key."""


@dataclass(frozen=True)
class Provider:
    """The provider file's values by dotted key, and what is missing (dotted keys, in ``FIELDS`` order)."""

    path: Path
    exists: bool
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        missing = [key for key, spec in FIELDS.items() if spec.required and self.values.get(key) in (None, "")]
        # Annex IV 7: without a harmonised standard, the solutions adopted must be described.
        if self.values.get("standards.harmonised") == [] and not self.values.get("standards.solutions"):
            missing.append("standards.solutions")
        return missing

    def get(self, key: str) -> Any:
        return self.values.get(key)


def provider_path() -> Path:
    """Where the provider file is read from: PREDICTOR_TECHNICAL_FILE_PROVIDER."""
    return Path(settings.PREDICTOR_TECHNICAL_FILE_PROVIDER)


def provider_read(path: Path | None = None) -> Provider:
    """The provider file at ``path`` (default: the setting's); raise ProviderFileError when it is malformed."""
    path = Path(path) if path is not None else provider_path()
    if not path.is_file():
        return Provider(path=path, exists=False)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProviderFileError(f"{path}: cannot be read as UTF-8 text ({exc}).") from exc
    return Provider(path=path, exists=True, values=provider_parse(text, name=str(path)))


def provider_parse(text: str, *, name: str = "technical_file.yaml") -> dict[str, Any]:
    """The values of a provider file's text by dotted key; raise ProviderFileError naming the line and the key."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ProviderFileError(f"{name}, {where}: not valid YAML: {getattr(exc, 'problem', None) or exc}.") from exc
    if root is None:
        return {}
    values: dict[str, Any] = {}
    _walk(root, "", values, name)
    return values


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _walk(node: yaml.Node, prefix: str, values: dict[str, Any], name: str) -> None:
    where = f"`{prefix}`" if prefix else "the top level"
    if not isinstance(node, yaml.MappingNode):
        raise ProviderFileError(f"{name}, line {_line(node)}: {where} must be a mapping of keys to values.")
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
        dotted = f"{prefix}.{key}" if prefix else key
        if dotted in seen:
            raise ProviderFileError(
                f"{name}, line {_line(key_node)}: key `{dotted}` is given twice (first on line {seen[dotted]})."
            )
        seen[dotted] = _line(key_node)
        if dotted in FIELDS:
            values[dotted] = _value(value_node, dotted, FIELDS[dotted], name)
        elif dotted in SECTIONS and not prefix:
            if not _is_null(value_node):
                _walk(value_node, dotted, values, name)
        else:
            known = sorted(k.split(".")[1] for k in FIELDS if k.startswith(f"{prefix}.")) if prefix else sorted(
                {k.split(".")[0] for k in FIELDS}
            )
            raise ProviderFileError(
                f"{name}, line {_line(key_node)}: unknown key `{dotted}`; the keys here are: {', '.join(known)}."
            )


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and (node.tag == "tag:yaml.org,2002:null" or node.value.strip() == "")


def _value(node: yaml.Node, key: str, spec: ProviderField, name: str) -> Any:
    if _is_null(node):
        return None
    line = _line(node)
    if spec.kind == "list":
        if not isinstance(node, yaml.SequenceNode):
            raise ProviderFileError(f"{name}, line {line}: `{key}` must be a list (write [] for none), not {_shape(node)}.")
        items = []
        for item in node.value:
            if not isinstance(item, yaml.ScalarNode) or _is_null(item):
                raise ProviderFileError(f"{name}, line {_line(item)}: each item of `{key}` must be text, not {_shape(item)}.")
            items.append(item.value.strip())
        return items
    if not isinstance(node, yaml.ScalarNode):
        raise ProviderFileError(f"{name}, line {line}: `{key}` must be {'a date' if spec.kind == 'date' else 'text'}, not {_shape(node)}.")
    if spec.kind == "date":
        try:
            return date.fromisoformat(node.value.strip()).isoformat()
        except ValueError:
            raise ProviderFileError(
                f"{name}, line {line}: `{key}` must be a date written YYYY-MM-DD, not {node.value.strip()!r}."
            ) from None
    return node.value.strip()


def _shape(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"
