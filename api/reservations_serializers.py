"""Slots, reservations and their konbini payment as the API shows them; the booking and cancel inputs."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from payments.konbini_display import store_rows
from payments.models import Payment
from payments.models import Status as PaymentStatus
from reservations.customer_links import absolute, completion_path, payment_request_path
from reservations.models import PaymentMethod, ReservableEvent, Reservation, ReservationEvent, Slot
from reservations.selectors import attention_of, waitlist_position

# A cancel whose gateway answer was lost: the one error body (api.schema's "Error", code `outcome_unknown`), 202;
# the status check settles the operation and finishes the cancel (reservations / registrations receivers).
OUTCOME_UNKNOWN = OpenApiResponse({"$ref": "#/components/schemas/Error"}, description=(
    "The gateway's answer was lost (`outcome_unknown`): the status check settles it and finishes the cancel."))

# --- slots -----------------------------------------------------------------------------------------------


class ReservableEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReservableEvent
        fields = ["id", "title", "acceptance_mode", "waitlist_enabled", "waitlist_promotion", "price"]


class SlotSerializer(serializers.ModelSerializer):
    """A slot with its seats (annotated by reservations.selectors.with_seats: no query per row)."""

    event = ReservableEventSerializer()
    seats_taken = serializers.IntegerField(help_text="Held by confirmed and pending-approval reservations.")
    seats_left = serializers.IntegerField()

    class Meta:
        model = Slot
        fields = ["id", "event", "starts_at", "capacity", "seats_taken", "seats_left"]


# --- a reservation's payment -------------------------------------------------------------------------------


class KonbiniStoreSerializer(serializers.Serializer):
    name = serializers.CharField()
    payment_code = serializers.CharField(required=False)
    confirmation_number = serializers.CharField(required=False)


class ReservationPaymentSerializer(serializers.ModelSerializer):
    """What the customer needs to pay: the konbini numbers once issued, or the one-off request's page."""

    status_label = serializers.CharField(source="get_status_display")
    stores = serializers.SerializerMethodField()
    voucher_url = serializers.SerializerMethodField()
    payment_request_url = serializers.SerializerMethodField(
        help_text="単発決済: the page where the customer asks for new numbers (while none were issued).")

    class Meta:
        model = Payment
        fields = ["id", "method", "status", "status_label", "amount", "refunded_amount", "payment_deadline",
                  "stores", "voucher_url", "payment_request_url", "version"]

    @extend_schema_field(KonbiniStoreSerializer(many=True))
    def get_stores(self, payment):
        return KonbiniStoreSerializer([{**row, "name": str(row["name"])} for row in store_rows(payment)],
                                      many=True).data

    def get_voucher_url(self, payment) -> str | None:
        return (payment.konbini_numbers or {}).get("hosted_voucher_url") or None

    def get_payment_request_url(self, payment) -> str | None:
        if payment.status != PaymentStatus.UNPROCESSED:
            return None
        return absolute(payment_request_path(payment))


# --- reservations ------------------------------------------------------------------------------------------


class ReservationListSerializer(serializers.ModelSerializer):
    slot_id = serializers.IntegerField()
    event_id = serializers.IntegerField(source="slot.event_id")
    event_title = serializers.CharField(source="slot.event.title")
    starts_at = serializers.DateTimeField(source="slot.starts_at")
    status_label = serializers.CharField(source="get_status_display")
    payment_id = serializers.IntegerField(allow_null=True)
    payment_status = serializers.CharField(source="payment.status", allow_null=True, default=None)
    payment_amount = serializers.IntegerField(source="payment.amount", allow_null=True, default=None)
    attention = serializers.SerializerMethodField(
        help_text="`expired` / `not_issued`: the konbini payment needs a decision (null: nothing to do).")

    class Meta:
        model = Reservation
        fields = ["id", "slot_id", "event_id", "event_title", "starts_at", "customer_name", "customer_email",
                  "seats", "status", "status_label", "payment_method", "payment_id", "payment_status",
                  "payment_amount", "attention", "created_at"]

    def get_attention(self, reservation) -> str | None:
        return attention_of(reservation)


class ReservationEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReservationEvent
        fields = ["at", "actor_label", "message"]


class ReservationSerializer(ReservationListSerializer):
    payment = ReservationPaymentSerializer(allow_null=True)
    waitlist_position = serializers.SerializerMethodField(help_text="1 = next in line; null unless waitlisted.")
    customer_url = serializers.SerializerMethodField(
        help_text="The customer's page of this reservation (status, and the konbini numbers once issued).")
    history = ReservationEventSerializer(source="events", many=True, read_only=True)

    class Meta(ReservationListSerializer.Meta):
        fields = [*ReservationListSerializer.Meta.fields, "status_changed_at", "waitlist_position", "payment",
                  "customer_url", "history"]

    def get_waitlist_position(self, reservation) -> int | None:
        return waitlist_position(reservation)

    def get_customer_url(self, reservation) -> str:
        return absolute(completion_path(reservation))


class BookSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    seats = serializers.IntegerField(min_value=1, max_value=100_000)
    payment_method = serializers.ChoiceField(
        choices=PaymentMethod.choices, required=False,
        help_text="Default: what the event's booking page offers (konbini for a priced event of a shop with "
                  "Stripe set up, else none).")


class ReservationCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class ReservationCancelResultSerializer(serializers.Serializer):
    reservation = ReservationSerializer()
    payment_effect = serializers.CharField(
        allow_null=True, help_text="What the cancel did to the money (the ledger's explanation), if anything.")
    promoted = ReservationListSerializer(many=True, help_text="Waitlisted reservations promoted into the seats.")
