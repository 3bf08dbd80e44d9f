"""The one definition of what a valid patient is; the form, the commands and the service all use it."""

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from .models import Prediction

# Labels and messages are translated when shown (gettext_lazy), in the language of the request.
_formatted = lazy(lambda template, values: str(template) % {key: str(value) for key, value in values.items()}, str)

# How the choices read to a person; the values stored and sent stay the lower-case words.
CHOICE_LABELS = {
    "female": _("Female"),
    "male": _("Male"),
    "yes": _("Yes"),
    "no": _("No"),
    "northeast": _("Northeast"),
    "northwest": _("Northwest"),
    "southeast": _("Southeast"),
    "southwest": _("Southwest"),
}


def _translated(choices) -> list[tuple[str, str]]:
    return [(value, CHOICE_LABELS.get(value, label)) for value, label in choices]

# No number a person types needs more characters than this; longer input is refused
# before it is parsed, so a megabyte of digits costs nothing.
MAX_NUMBER_LENGTH = 20

LIMITS = {"age": (18, 100), "bmi": (10, 70), "children": (0, 10)}


def _number_messages(label, low: int, high: int, example: str, whole: bool) -> dict[str, str]:
    values = {"label": label, "low": low, "high": high, "example": example}
    invalid = (
        _("Enter the %(label)s as a whole number, like %(example)s.")
        if whole
        else _("Enter the %(label)s as a number, like %(example)s.")
    )
    between = _formatted(_("The %(label)s must be between %(low)s and %(high)s."), values)
    return {
        "required": _formatted(_("Enter the %(label)s."), values),
        "invalid": _formatted(invalid, values),
        "min_value": between,
        "max_value": between,
        "max_length": _formatted(invalid, values),
    }


class _BoundedTextMixin:
    """Refuse over-long text before numeric parsing (covers `'9' * 10_000` and friends)."""

    def to_python(self, value):
        if isinstance(value, str) and len(value.strip()) > MAX_NUMBER_LENGTH:
            raise forms.ValidationError(self.error_messages["max_length"], code="max_length")
        return super().to_python(value)


class BoundedIntegerField(_BoundedTextMixin, forms.IntegerField):
    pass


class BoundedFloatField(_BoundedTextMixin, forms.FloatField):
    """A float field that also refuses NaN and infinity (Django's FloatField does too; this says so)."""


def _choice_messages(label, choices) -> dict[str, str]:
    values = {"label": label, "words": ", ".join(value for value, _label in choices)}
    return {
        "required": _formatted(_("Choose the %(label)s."), values),
        "invalid_choice": _formatted(_("Choose the %(label)s from: %(words)s."), values),
    }


class PredictionForm(forms.Form):
    """The six facts about a patient, with the ranges the product accepts."""

    age = BoundedIntegerField(
        label=_("Age (years)"),
        min_value=LIMITS["age"][0],
        max_value=LIMITS["age"][1],
        error_messages=_number_messages(_("age"), *LIMITS["age"], "42", whole=True),
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric", "placeholder": "42"}),
    )
    sex = forms.ChoiceField(
        label=_("Sex"),
        choices=_translated(Prediction.Sex.choices),
        widget=forms.RadioSelect,
        error_messages=_choice_messages(_("sex"), Prediction.Sex.choices),
    )
    bmi = BoundedFloatField(
        label=_("Body mass index (BMI)"),
        help_text=_("Weight in kilograms divided by the square of height in metres, for example 27.9."),
        min_value=LIMITS["bmi"][0],
        max_value=LIMITS["bmi"][1],
        error_messages=_number_messages(_("BMI"), *LIMITS["bmi"], "27.9", whole=False),
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "placeholder": "27.9"}),
    )
    children = BoundedIntegerField(
        label=_("Children covered by the insurance"),
        min_value=LIMITS["children"][0],
        max_value=LIMITS["children"][1],
        error_messages=_number_messages(_("number of children"), *LIMITS["children"], "2", whole=True),
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric", "placeholder": "0"}),
    )
    smoker = forms.ChoiceField(
        label=_("Smokes"),
        choices=_translated(Prediction.Smoker.choices),
        widget=forms.RadioSelect,
        error_messages=_choice_messages(_("smoking status"), Prediction.Smoker.choices),
    )
    region = forms.ChoiceField(
        label=_("Region of residence in the US"),
        choices=[("", _("Choose a region")), *_translated(Prediction.Region.choices)],
        error_messages=_choice_messages(_("region"), Prediction.Region.choices),
    )
