"""English and Simplified Chinese: the catalogue is complete and compiled, the language is chosen
as the issue says (zh-TW and zh-Hant get English), dollars read "US$" in Chinese, and numbers read
by machines are never localised."""

import re
import shutil
from http import HTTPStatus
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from predictor.models import Prediction

PO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
HTML_LANG = re.compile(r'<html lang="([^"]+)"')


@pytest.fixture(autouse=True)
def back_to_the_default_language():
    """LocaleMiddleware activates a request's language in this thread and leaves it: later tests expect English."""
    yield
    translation.deactivate()


def catalogue(entries) -> dict:
    return {
        (entry.msgctxt, entry.msgid): (entry.msgstr, tuple(sorted(entry.msgstr_plural.items())))
        for entry in entries
        if entry.msgid
    }


def test_every_public_message_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(PO))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert [entry.msgid for entry in po if entry.msgid_plural and not all(entry.msgstr_plural.values())] == []


def test_the_committed_mo_is_compiled_from_the_committed_po():
    assert catalogue(polib.mofile(str(MO))) == catalogue(polib.pofile(str(PO)))


def test_the_po_holds_every_message_of_the_code_and_templates(tmp_path, monkeypatch):
    """makemessages over a copy of the sources finds no message the committed catalogue lacks."""
    root = Path(settings.BASE_DIR)
    for folder in ("predictor", "templates", "insurance_site", "static"):
        shutil.copytree(root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "admin"))
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["zh_Hans"], no_location=True, verbosity=0)
    found = {entry.msgid for entry in polib.pofile(str(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))}
    committed = {entry.msgid for entry in polib.pofile(str(PO))}
    assert found - committed == set(), "run `make messages` and translate the new messages"


@pytest.mark.parametrize(
    "header,language",
    [
        ("zh-CN", "zh-Hans"),
        ("zh-SG", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-cn,zh;q=0.9,en;q=0.8", "zh-Hans"),
        ("zh-TW", "en"),
        ("zh-Hant", "en"),
        ("zh-Hant-TW", "en"),
        ("zh-HK", "en"),
        ("zh-TW,zh;q=0.8", "en"),
        ("en-US,zh-CN;q=0.5", "en"),
        ("fr-FR", "en"),
        ("", "en"),
    ],
)
def test_accept_language_picks_the_language(client, header, language):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=header)
    assert HTML_LANG.search(response.content.decode())[1] == language


@pytest.mark.django_db
def test_the_switcher_remembers_the_choice_without_javascript(client):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == "/"
    assert settings.LANGUAGE_COOKIE_NAME in response.cookies
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()  # the cookie wins over the header
    assert HTML_LANG.search(html)[1] == "zh-Hans" and "估算每年的医疗保险费用" in html
    assert 'name="language" value="en"' in html  # the way back


@pytest.mark.django_db
def test_the_result_reads_in_chinese_with_us_dollars_and_machine_numbers_unlocalised(client, valid_inputs):
    html = client.post(reverse("predictor:predict"), valid_inputs, follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "US$17,076" in html and "¥" not in html and "￥" not in html
    assert re.search(r"很可能在 <strong>US\$16,510</strong> 到 <strong>US\$17,290</strong> 之间", html)
    assert "与典型患者相比，吸烟使估计每年增加约 US$" in html
    assert "<dd>女</dd>" in html and "<dd>西南部</dd>" in html
    assert 'data-charges="17076.04"' in html  # unrounded, unlocalised


@pytest.mark.django_db
def test_form_errors_read_in_chinese_and_the_typed_numbers_stay_as_typed(client):
    response = client.post("/", {"age": "12", "bmi": "27.9"}, HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = response.content.decode()
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "年龄必须在 18 到 100 之间。" in html and "请选择地区。" in html
    assert 'value="27.9"' in html and 'value="12"' in html
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_the_admin_uses_djangos_own_chinese(client):
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "登录" in html


def test_the_english_pages_show_plain_dollars(client):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "US$" not in html and "Estimate yearly medical insurance charges" in html
