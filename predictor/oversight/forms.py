"""The forms of the staff pages: a reviewed charge with its reason, and the reason of a pause or a resume.

They only carry the text: the services check it (``services.reviewed_charges_clean``, ``reason_clean``),
so the admin, the API and the commands refuse the same input with the same words.
"""

from __future__ import annotations

from django import forms

from .services import MAX_REASON_LENGTH


class ChargeOverrideForm(forms.Form):
    reviewed_charges = forms.CharField(
        label="Reviewed charge ($)", required=False, max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 12}),
        help_text="The yearly charge staff decided on, from 0 to 1,000,000 dollars. The model's estimate is kept.",
    )
    reason = forms.CharField(
        label="Reason", required=False, max_length=MAX_REASON_LENGTH + 1,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why the estimate is overridden (required); kept with the override and shown in its record.",
    )


class ServingChangeForm(forms.Form):
    reason = forms.CharField(
        label="Reason", required=False, max_length=MAX_REASON_LENGTH + 1,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why (required to pause); kept in the record of pauses and resumes.",
    )
