"""Language choice: Traditional Chinese readers get English, never Simplified Chinese.

With LANGUAGES = English and Simplified Chinese, Django's LocaleMiddleware reads
``Accept-Language: zh-TW`` (or zh-HK, zh-Hant) as "some Chinese" and answers in Simplified
Chinese. This middleware, placed before it, removes Traditional Chinese ranges from the header;
and when a Traditional variant is the reader's first Chinese, also the generic ``zh`` that
follows it, so they get English (the default). zh-CN, zh-SG, zh-Hans-CN and zh are untouched
and map to zh-hans.
"""

from __future__ import annotations

from django.utils.translation.trans_real import parse_accept_lang_header

TRADITIONAL = ("zh-tw", "zh-hk", "zh-mo", "zh-hant")


def _is_traditional(code: str) -> bool:
    return any(code == prefix or code.startswith(prefix + "-") for prefix in TRADITIONAL)


def accept_language_without_traditional_chinese(header: str) -> str:
    """An Accept-Language header with Traditional Chinese ranges (and then Chinese at all) removed."""
    kept: list[str] = []
    first_chinese_traditional: bool | None = None
    for code, quality in parse_accept_lang_header(header):
        chinese = code == "zh" or code.startswith("zh-")
        if chinese and first_chinese_traditional is None:
            first_chinese_traditional = _is_traditional(code)
        if chinese and (first_chinese_traditional or _is_traditional(code)):
            continue
        kept.append(code if quality == 1.0 else f"{code};q={quality:g}")
    return ", ".join(kept)


class TraditionalChineseToEnglish:
    """Rewrite Accept-Language before LocaleMiddleware reads it (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_ACCEPT_LANGUAGE")
        if header and "zh" in header.lower():
            request.META["HTTP_ACCEPT_LANGUAGE"] = accept_language_without_traditional_chinese(header)
        return self.get_response(request)
