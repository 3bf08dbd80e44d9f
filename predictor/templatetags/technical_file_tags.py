"""Template filters of the technical file: a value made safe for a Markdown table cell, and `code` in HTML."""

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def mdcell(value) -> str:
    """A value for a Markdown table cell: pipes escaped and line breaks turned into spaces."""
    return " ".join(str(value).replace("|", "\\|").split())


@register.filter
def inline_code(value) -> str:
    """A sentence for HTML: escaped, with each `word` in backticks set as code (as the Markdown shows it)."""
    return mark_safe(re.sub(r"`([^`]+)`", r"<code>\1</code>", conditional_escape(value)))
