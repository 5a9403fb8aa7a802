"""The customer's cancel form: only an optional note for the shop (the reason is always 購入者都合)."""

from django import forms
from django.utils.translation import gettext_lazy as _


class CancelForm(forms.Form):
    note = forms.CharField(label=_("Message to the shop (optional)"), max_length=1000, required=False,
                           widget=forms.Textarea(attrs={"rows": 3}))
