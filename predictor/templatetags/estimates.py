"""How the public pages show money and what drives an estimate.

The public pages round: estimates to the dollar, ranges to $10, explanations to $100 ("about");
the API keeps cents. The currency is written "$" in English and "US$" in Chinese (never ¥), through
a translated format; the digits are grouped with commas in both languages.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils.translation import gettext, gettext_lazy

from ..forms import CHOICE_LABELS

register = template.Library()


def _rounded(value, step: int) -> int:
    return int((Decimal(str(value)) / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


@register.filter
def dollars(value, step=1) -> str:
    """An amount of US dollars rounded to ``step`` dollars, e.g. "$17,076" (English) or "US$17,076" (Chinese)."""
    if value is None or value == "":
        return ""
    # Translators: an amount of US dollars; keep "US$" in Chinese, never ¥.
    return gettext("$%(amount)s") % {"amount": f"{_rounded(value, int(step)):,}"}


@register.filter
def choice_label(value) -> str:
    """How a stored choice reads in the current language ("female" -> "Female" / "女"); numbers as they are."""
    return str(CHOICE_LABELS.get(value, value))


@register.filter
def magnitude(value) -> float:
    """The size of a signed amount."""
    return abs(float(value))


# The words for each input in "Smoking adds about $15,700 a year compared with a typical patient".
FACTOR_WORDS = {
    "age": gettext_lazy("An age of %(value)s"),
    "sex": gettext_lazy("Sex (%(value)s)"),
    "bmi": gettext_lazy("A BMI of %(value)s"),
    "children": gettext_lazy("Children covered (%(value)s)"),
    "region": gettext_lazy("The region (%(value)s)"),
}
SMOKING_WORDS = {"yes": gettext_lazy("Smoking"), "no": gettext_lazy("Not smoking")}
# Below this many dollars a contribution "makes little difference".
NEGLIGIBLE_DOLLARS = 50


@register.simple_tag
def factor_label(prediction, name: str) -> str:
    """The words for one of a stored prediction's inputs, with its value: "A BMI of 27.9", "Smoking"."""
    if name == "smoker":
        return str(SMOKING_WORDS[prediction.smoker])
    return str(FACTOR_WORDS[name]) % {"value": choice_label(getattr(prediction, name))}


@register.simple_tag
def contribution_sentence(prediction, name: str, amount: float) -> str:
    """A plain sentence for one input's contribution, rounded to about $100."""
    factor = factor_label(prediction, name)
    if abs(amount) < NEGLIGIBLE_DOLLARS:
        return gettext("%(factor)s makes little difference (under %(amount)s).") % {
            "factor": factor,
            "amount": dollars(NEGLIGIBLE_DOLLARS),
        }
    words = {"factor": factor, "amount": dollars(abs(amount), 100)}
    if amount > 0:
        return gettext("%(factor)s adds about %(amount)s a year compared with a typical patient.") % words
    return gettext("%(factor)s lowers the estimate by about %(amount)s a year compared with a typical patient.") % words


@register.inclusion_tag("predictor/_bar.html")
def contribution_bar(amount: float, largest: float) -> dict:
    """A diverging bar (SVG, no script, no style attribute): right of the middle adds, left takes away."""
    share = 0.0 if not largest else min(1.0, abs(float(amount)) / float(largest))
    width = round(50 * share, 2)
    return {"x": 50 if amount >= 0 else round(50 - width, 2), "width": width, "adds": amount >= 0}
