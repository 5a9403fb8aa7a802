"""The booking form of the customer's event page: what the customer may choose, in the customer's words.

Only the shape of the input is checked here (a slot of THIS event, a name, an e-mail, seats >= 1, a method
the page offered). Seats, waitlist and konbini amount limits are the booking service's to decide.
"""

from __future__ import annotations

from django import forms
from django.utils import timezone

from reservations.models import PaymentMethod, ReservableEvent, Slot
from reservations.selectors import with_seats

KONBINI_STORES = "ファミリーマート・ローソン・ミニストップ・セイコーマート"


def open_slots(event: ReservableEvent):
    """The event's slots still to come, annotated with ``seats_taken`` and ``seats_left`` (a past slot cannot be
    booked); with their event, which each slot's label (str) shows."""
    return with_seats(Slot.objects.filter(event=event, starts_at__gt=timezone.now())
                            .select_related("event")).order_by("starts_at", "id")


def methods_for(event: ReservableEvent) -> list[tuple[str, str]]:
    """Konbini for a priced event of a shop with Stripe set up; otherwise no online payment."""
    if event.price and event.shop.accepts_konbini:
        return [(PaymentMethod.KONBINI, f"コンビニ払い（{KONBINI_STORES}）")]
    if event.price:
        return [(PaymentMethod.NONE, "オンラインでのお支払いなし（お支払い方法はショップからご案内します）")]
    return [(PaymentMethod.NONE, "お支払いなし（無料）")]


class BookingForm(forms.Form):
    slot = forms.TypedChoiceField(coerce=int, error_messages={
        "required": "日時を選択してください。",
        "invalid_choice": "選択された日時はご予約いただけません。ページを再読み込みして選び直してください。"})
    name = forms.CharField(max_length=200, error_messages={
        "required": "お名前を入力してください。", "max_length": "お名前は200文字以内で入力してください。"})
    email = forms.EmailField(max_length=254, error_messages={
        "required": "メールアドレスを入力してください。", "invalid": "メールアドレスの形式が正しくありません。",
        "max_length": "メールアドレスが長すぎます。"})
    seats = forms.IntegerField(min_value=1, initial=1, error_messages={
        "required": "人数を入力してください。", "invalid": "人数は数字で入力してください。",
        "min_value": "人数は1名以上で入力してください。"})
    # One-time key of this form (a fresh one per page view): a double submit books once.
    request_key = forms.RegexField(regex=r"^[0-9a-f]{32}$", required=False)
    payment_method = forms.ChoiceField(error_messages={
        "required": "お支払い方法を選択してください。",
        "invalid_choice": "選択されたお支払い方法はご利用いただけません。"})

    def __init__(self, event: ReservableEvent, slots, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.event = event
        self.slots = {slot.pk: slot for slot in slots}
        self.fields["slot"].choices = [(pk, str(slot)) for pk, slot in self.slots.items()]
        methods = methods_for(event)
        self.fields["payment_method"].choices = methods
        self.fields["payment_method"].initial = methods[0][0]

    def chosen_slot(self) -> Slot:
        return self.slots[self.cleaned_data["slot"]]
