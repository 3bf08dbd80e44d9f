"""manage.py technical_file: the documents on standard output or into a folder, --check listing exactly the
provider's missing fields, a malformed provider file refused with its line and key, and the read logged."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from predictor.models import AccessLogEntry
from predictor.technical_file.provider import FIELDS
from tests.technical_file.conftest import EXAMPLE

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("technical_file", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_check_lists_exactly_the_missing_fields_and_exits_1(provider_file):
    example = yaml.safe_load(EXAMPLE.read_text())
    del example["provider"]["contact"], example["declaration_of_conformity"]["signatory"], example["lifetime"]
    del example["standards"]["solutions"]  # needed: no harmonised standard is applied
    example["risk_management"]["reviewed_on"] = None
    provider_file(yaml.safe_dump(example))
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("technical_file", "--check", stdout=out)
    assert exited.value.code == 1
    listed = [line.split(":")[0].strip() for line in out.getvalue().splitlines()[1:]]
    assert listed == [
        "provider.contact", "risk_management.reviewed_on", "declaration_of_conformity.signatory", "lifetime.expected",
        "standards.solutions",
    ]
    assert "lacks 5 fields" in out.getvalue()
    assert not AccessLogEntry.objects.exists()  # --check reads only the provider file


def test_check_without_a_provider_file_lists_every_required_field(no_provider_file):
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("technical_file", "--check", stdout=out)
    assert "(there is no such file)" in out.getvalue()
    assert len(out.getvalue().splitlines()) - 1 == sum(spec.required for spec in FIELDS.values())


def test_check_passes_on_a_complete_provider_file(provider_file):
    provider_file()
    out, _ = run("--check")
    assert "has every field the documents need" in out


def test_a_malformed_provider_file_is_refused_with_its_line_and_key_and_nothing_is_read(provider_file):
    path = provider_file("provider:\n  name: A\n  phone: 123\n")
    for args in (["--check"], ["--format", "md"]):
        with pytest.raises(CommandError, match=rf"{path}, line 3: unknown key `provider.phone`"):
            run(*args)
    assert not AccessLogEntry.objects.exists()


def test_the_technical_file_goes_to_standard_output_and_the_read_is_logged(provider_file):
    provider_file()
    out, err = run("--format", "md")
    assert out.startswith("# Technical documentation (EU AI Act, Art. 11 and Annex IV)")
    assert "## 9. Post-market monitoring (Art. 72)" in out
    assert "parts are marked MISSING" in err  # the card's fairness key and the actual charges: none yet
    entry = AccessLogEntry.objects.get()
    assert (entry.command, entry.action, entry.row_count) == ("technical_file", "technical_file", 0)


def test_out_writes_both_documents_in_the_format_asked(provider_file, tmp_path):
    provider_file()
    run("--out", str(tmp_path / "md"))
    run("--out", str(tmp_path / "html"), "--format", "html")
    assert sorted(path.name for path in (tmp_path / "md").iterdir()) == ["instructions-for-use.md", "technical-file.md"]
    page = (tmp_path / "html" / "technical-file.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page and "<h2>1. General description" in page
    guide = (tmp_path / "md" / "instructions-for-use.md").read_text()
    assert guide.startswith("# Instructions for use (EU AI Act, Art. 13(3))")
    for heading in ("(b)(ii) Declared accuracy", "(b)(v) Accuracy for specific persons or groups", "(b)(iii) Known limits",
                    "(b)(vi) Input specification", "## 13(3)(d). Human oversight measures", "(f) Record-keeping"):
        assert heading in guide
    assert AccessLogEntry.objects.count() == 2


def test_an_out_folder_that_cannot_be_written_is_a_clear_error(provider_file, tmp_path):
    provider_file()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(CommandError, match="could not be written"):
        run("--out", str(blocker / "inside"))
