"""The forms of actual charges: the admin's field on a prediction, and the staff page's file upload."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from ..models import Prediction
from .services import MESSAGES, actual_charges_clean


class ActualChargesField(forms.Field):
    """The admin form's field: the same rules as every other way in; empty clears a wrong value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 12}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Decimal | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if self.required:
                raise ValidationError(MESSAGES["required"], code="required")
            return None
        return actual_charges_clean(value)


class PredictionActualForm(forms.ModelForm):
    """The one field staff may set on a prediction; the service records it (who, when, the previous value)."""

    actual_charges = ActualChargesField(
        label="Actual charges ($)",
        help_text="The yearly amount billed, from 0 to 1,000,000. Leave empty to clear a wrong value; every change is kept below.",
    )

    class Meta:
        model = Prediction
        fields = ["actual_charges"]


class ActualsUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the reader says what an empty file lacks
        help_text="A header line naming the columns prediction_id and actual_charges, then one prediction a line.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )
