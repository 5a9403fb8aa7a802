"""Forms of the claim steps on the claim page and the order page (bad input → the form again, nothing changes)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.models import REASONS, ClaimKind, MessageCategory, Party, Reason


def _reason_choices(kind: str, party: str = Party.SELLER):
    return [(reason, Reason(reason).label) for reason in REASONS[(kind, party)]]


class ShipDateForm(forms.Form):
    ship_date = forms.DateField(label=_("Planned ship date"), widget=forms.DateInput(attrs={"type": "date"}))


class MessageForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=MessageCategory.choices,
                                 initial=MessageCategory.CANCEL_REFUND)
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))


class MemoFields(forms.Form):
    seller_memo = forms.CharField(label=_("Seller memo (the customer can read it)"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class SellerCancelForm(MemoFields):
    reason = forms.ChoiceField(label=_("Reason"), choices=_reason_choices(ClaimKind.CANCEL))
    internal_memo = forms.CharField(label=_("Internal memo"), required=False,
                                    widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    field_order = ["reason", "seller_memo", "internal_memo"]


class OpenReturnForm(MemoFields):
    kind = forms.ChoiceField(label=_("Claim type"), choices=[(ClaimKind.RETURN, ClaimKind.RETURN.label),
                                                             (ClaimKind.EXCHANGE, ClaimKind.EXCHANGE.label)])
    reason = forms.ChoiceField(label=_("Reason"), choices=_reason_choices(ClaimKind.RETURN))
    internal_memo = forms.CharField(label=_("Internal memo"), required=False,
                                    widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))
    field_order = ["kind", "reason", "seller_memo", "internal_memo"]

    def clean(self):
        data = super().clean()
        kind, reason = data.get("kind"), data.get("reason")
        if kind and reason and reason not in REASONS[(kind, Party.SELLER)]:
            raise forms.ValidationError(_("The seller cannot pick this reason for this claim type."))
        return data


class ApproveForm(MemoFields):
    pass


class RefuseForm(MemoFields):
    seller_memo = forms.CharField(label=_("Seller memo (the customer can read it)"),
                                  widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class AskWithdrawalForm(RefuseForm):
    deadline = forms.DateTimeField(label=_("Withdrawal deadline"),
                                   widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                              format="%Y-%m-%dT%H:%M"))
    field_order = ["deadline", "seller_memo"]

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        if deadline <= timezone.now():
            raise forms.ValidationError(_("The deadline must be in the future."))
        return deadline


class ConfirmReturnForm(forms.Form):
    item_received = forms.BooleanField(label=_("The returned item was received"), required=False)
    refund_approved = forms.BooleanField(label=_("The refund is approved"), required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("item_received") and data.get("refund_approved")):
            raise forms.ValidationError(_("Confirm both: the item was received and the refund is approved."))
        return data
