"""Template filters of the technical file's Markdown: a value made safe for a table cell."""

from django import template

register = template.Library()


@register.filter
def mdcell(value) -> str:
    """A value for a Markdown table cell: pipes escaped and line breaks turned into spaces."""
    return " ".join(str(value).replace("|", "\\|").split())
