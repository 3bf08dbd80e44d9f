"""The one definition of what a valid patient is; the form, the commands and the service all use it."""

from django import forms

from .models import Prediction

# No number a person types needs more characters than this; longer input is refused
# before it is parsed, so a megabyte of digits costs nothing.
MAX_NUMBER_LENGTH = 20

LIMITS = {"age": (18, 100), "bmi": (10, 70), "children": (0, 10)}


def _number_messages(label: str, low: int, high: int, example: str, whole: bool) -> dict[str, str]:
    kind = "a whole number" if whole else "a number"
    return {
        "required": f"Enter the {label}.",
        "invalid": f"Enter the {label} as {kind}, like {example}.",
        "min_value": f"The {label} must be between {low} and {high}.",
        "max_value": f"The {label} must be between {low} and {high}.",
        "max_length": f"Enter the {label} as {kind}, like {example}.",
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


def _choice_messages(label: str, choices) -> dict[str, str]:
    words = ", ".join(value for value, _ in choices)
    return {
        "required": f"Choose the {label}.",
        "invalid_choice": f"Choose the {label} from: {words}.",
    }


class PredictionForm(forms.Form):
    """The six facts about a patient, with the ranges the product accepts."""

    age = BoundedIntegerField(
        label="Age (years)",
        min_value=LIMITS["age"][0],
        max_value=LIMITS["age"][1],
        error_messages=_number_messages("age", *LIMITS["age"], "42", whole=True),
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric", "placeholder": "42"}),
    )
    sex = forms.ChoiceField(
        label="Sex",
        choices=Prediction.Sex.choices,
        widget=forms.RadioSelect,
        error_messages=_choice_messages("sex", Prediction.Sex.choices),
    )
    bmi = BoundedFloatField(
        label="Body mass index (BMI)",
        help_text="Weight in kilograms divided by the square of height in metres, for example 27.9.",
        min_value=LIMITS["bmi"][0],
        max_value=LIMITS["bmi"][1],
        error_messages=_number_messages("BMI", *LIMITS["bmi"], "27.9", whole=False),
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal", "placeholder": "27.9"}),
    )
    children = BoundedIntegerField(
        label="Children covered by the insurance",
        min_value=LIMITS["children"][0],
        max_value=LIMITS["children"][1],
        error_messages=_number_messages("number of children", *LIMITS["children"], "2", whole=True),
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric", "placeholder": "0"}),
    )
    smoker = forms.ChoiceField(
        label="Smokes",
        choices=Prediction.Smoker.choices,
        widget=forms.RadioSelect,
        error_messages=_choice_messages("smoking status", Prediction.Smoker.choices),
    )
    region = forms.ChoiceField(
        label="Region of residence in the US",
        choices=[("", "Choose a region"), *Prediction.Region.choices],
        error_messages=_choice_messages("region", Prediction.Region.choices),
    )
