"""provider: the provider file, read with its lines; missing fields listed, malformed files refused."""

import pytest

from predictor.technical_file.provider import FIELDS, Provider, ProviderFileError, provider_parse, provider_read

from .conftest import EXAMPLE

REQUIRED = [key for key, spec in FIELDS.items() if spec.required]


def test_the_committed_example_has_every_field_and_reads_as_written():
    provider = provider_read(EXAMPLE)
    assert provider.exists and provider.missing == []
    assert provider.get("provider.name") == "Example Health Insurance Ltd"
    assert provider.get("declaration_of_conformity.date") == "2026-12-01"
    assert provider.get("standards.harmonised") == []
    assert provider.get("standards.other")[0].startswith("ISO/IEC 23894")


def test_without_a_file_every_required_field_is_missing_in_the_schemas_order(tmp_path):
    provider = provider_read(tmp_path / "none.yaml")
    assert not provider.exists
    assert provider.missing == REQUIRED


def test_empty_values_are_missing_not_malformed_and_no_harmonised_standard_asks_for_the_solutions():
    values = provider_parse("provider:\n  name: ''\n  address:\nstandards:\n  harmonised: []\n")
    provider = Provider(path=EXAMPLE, exists=True, values=values)
    assert {"provider.name", "provider.address", "standards.solutions"} <= set(provider.missing)
    assert "standards.harmonised" not in provider.missing


@pytest.mark.parametrize(("text", "message"), [
    ("provider:\n  name: [unclosed\n", "line 3, column 1: not valid YAML"),
    ("provider:\n  name: A\n  nmae: B\n", "line 3: unknown key `provider.nmae`; the keys here are: address, authorised_representative, contact, name."),
    ("providr:\n  name: A\n", "line 1: unknown key `providr`"),
    ("provider:\n  name:\n    - A\n    - B\n", "line 3: `provider.name` must be text, not a list."),
    ("risk_management:\n  reviewed_on: last spring\n", "line 2: `risk_management.reviewed_on` must be a date written YYYY-MM-DD, not 'last spring'."),
    ("standards:\n  harmonised: EN 1234\n", "line 2: `standards.harmonised` must be a list (write [] for none), not 'EN 1234'."),
    ("provider:\n  name: A\n  name: B\n", "line 3: key `provider.name` is given twice (first on line 2)."),
    ("- a list\n", "line 1: the top level must be a mapping"),
    ("provider: Example Ltd\n", "line 1: `provider` must be a mapping"),
])
def test_a_malformed_file_is_refused_with_its_line_and_key(text, message):
    with pytest.raises(ProviderFileError) as raised:
        provider_parse(text, name="technical_file.yaml")
    assert str(raised.value).startswith("technical_file.yaml, ")
    assert message in str(raised.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "technical_file.yaml"
    path.write_bytes(b"provider:\n  name: \xff\xfe\n")
    with pytest.raises(ProviderFileError, match="cannot be read as UTF-8"):
        provider_read(path)
