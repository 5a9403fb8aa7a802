"""List filters of the slot, reservation and registration endpoints: the admin lists' filters, same conditions.

reservations.admin: status, PaymentStatusFilter (a konbini status or "none"), NeedsAttentionFilter (konbini
decision: all / expired / numbers not issued), EventFilter; search on the customer's name and e-mail.
registrations.admin: status, MethodFilter, RefundPendingFilter ("refund": a manual refund not confirmed),
event; search on number, participant name, kana and e-mail.
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from api.filters import CreatedRangeFilterSet, IdFilter, JstDayFilter, SearchFilter
from payments.models import Method
from payments.models import Status as PaymentStatus
from refunds.models import RefundTask, RefundTaskStatus
from registrations.models import Registration, RegistrationStatus
from reservations.admin_dashboard import ANY_KONBINI
from reservations.models import Reservation, Slot
from reservations.models import Status as ReservationStatus
from reservations.selectors import ATTENTION_STATUSES, EXPIRED, NOT_ISSUED, needs_attention_condition

NO_PAYMENT = "none"
PAYMENT_STATUS_CHOICES = [(status.value, status.label) for status in (
    PaymentStatus.AWAITING_APPROVAL, PaymentStatus.UNPROCESSED, PaymentStatus.AWAITING_PAYMENT, PaymentStatus.PAID,
    PaymentStatus.EXPIRED, PaymentStatus.CANCELLED)] + [(NO_PAYMENT, "No online payment")]
RESERVATION_ATTENTION_CHOICES = [(ANY_KONBINI, "Konbini: decision needed (all)"),
                                 (EXPIRED, "Konbini payment expired (決済エラー)"),
                                 (NOT_ISSUED, "Konbini numbers not issued")]
REGISTRATION_METHODS = [(m.value, m.label) for m in (Method.CARD, Method.KONBINI, Method.BANK_TRANSFER)]
REFUND_PENDING = "refund"


@extend_schema_field(OpenApiTypes.INT)
class SlotFilter(filters.FilterSet):
    event = IdFilter(field_name="event_id", help_text="Reservable event id")
    starts_at__from = JstDayFilter("starts_at", "from")
    starts_at__to = JstDayFilter("starts_at", "to")

    class Meta:
        model = Slot
        fields = []


def _reservation_payment_status(qs, name, value):
    if value == NO_PAYMENT:
        return qs.filter(payment__isnull=True)
    return qs.filter(payment__status=value)


def _reservation_attention(qs, name, value):
    kind = value if value in ATTENTION_STATUSES else None  # ANY_KONBINI: every kind
    return qs.filter(needs_attention_condition(kind))


class ReservationFilter(CreatedRangeFilterSet):
    status = filters.MultipleChoiceFilter(choices=ReservationStatus.choices)
    payment_status = filters.ChoiceFilter(choices=PAYMENT_STATUS_CHOICES, method=_reservation_payment_status,
                                          help_text="The konbini payment's status, or `none` (no online payment)")
    attention = filters.ChoiceFilter(choices=RESERVATION_ATTENTION_CHOICES, method=_reservation_attention,
                                     help_text="要対応: confirmed reservations whose konbini payment needs a decision")
    event = IdFilter(field_name="slot__event_id", help_text="Reservable event id")
    q = SearchFilter(["customer_name", "customer_email"])

    class Meta:
        model = Reservation
        fields = []


def with_refund_pending(registrations):
    """`refund_pending`: a manual refund task of the registration's payment is not confirmed yet (one query)."""
    pending = RefundTask.objects.filter(payment_id=OuterRef("payment_id")).exclude(status=RefundTaskStatus.CONFIRMED)
    return registrations.annotate(refund_pending=Exists(pending))


def _refund_pending(qs, name, value):
    return qs.filter(refund_pending=True) if value == REFUND_PENDING else qs


class RegistrationFilter(CreatedRangeFilterSet):
    status = filters.MultipleChoiceFilter(choices=RegistrationStatus.choices)
    method = filters.MultipleChoiceFilter(field_name="payment__method", choices=REGISTRATION_METHODS)
    attention = filters.ChoiceFilter(choices=[(REFUND_PENDING, "Manual refund not confirmed")],
                                     method=_refund_pending, help_text="要対応: a manual refund not yet confirmed")
    event = IdFilter(field_name="event_id", help_text="Registration event id")
    q = SearchFilter(["number", "participant_name", "participant_kana", "participant_email"])

    class Meta:
        model = Registration
        fields = []
