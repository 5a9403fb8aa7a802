"""Read-side questions about slots (seats taken / left, the waitlist in its order) and about reservations'
konbini payments (which need a decision, which payments a one-off request replaced)."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Greatest

from payments.models import Method, Payment
from payments.models import Status as PaymentStatus
from reservations.models import HOLDING, Reservation, Slot, Status


def _slot_id(slot) -> int:
    return slot.pk if isinstance(slot, Slot) else int(slot)


def seats_taken(slot) -> int:
    """Seats held by confirmed and pending-approval reservations (a pending one holds its seats)."""
    total = Reservation.objects.filter(slot_id=_slot_id(slot), status__in=HOLDING).aggregate(n=Sum("seats"))["n"]
    return total or 0


def with_seats(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    """``slots`` annotated with ``seats_taken`` and ``seats_left`` (as the functions), in the same query: for
    lists of slots."""
    return slots.annotate(
        seats_taken=Coalesce(Sum("reservations__seats", filter=Q(reservations__status__in=HOLDING)), 0),
    ).annotate(seats_left=Greatest(F("capacity") - F("seats_taken"), 0))


def seats_left(slot) -> int:
    slot = slot if isinstance(slot, Slot) else Slot.objects.get(pk=slot)
    return max(slot.capacity - seats_taken(slot), 0)


def waitlist(slot) -> QuerySet[Reservation]:
    """Waitlisted reservations, first in line first (Reservation.Meta.ordering: created_at, id)."""
    return Reservation.objects.filter(slot_id=_slot_id(slot), status=Status.WAITLISTED).order_by("created_at", "id")


def waitlist_position(reservation: Reservation) -> int | None:
    """1 for the head of the line; None when the reservation is not waitlisted."""
    if reservation.status != Status.WAITLISTED:
        return None
    ahead = waitlist(reservation.slot_id).filter(created_at__lte=reservation.created_at).exclude(
        created_at=reservation.created_at, id__gte=reservation.pk)
    return ahead.count() + 1


# --- konbini payments that need the operator (SPEC 3.3, 4.2: "deadline passed" leaves the reservation 確定) ---

EXPIRED = "expired"  # 決済エラー: cancel the reservation or send a one-off payment request
NOT_ISSUED = "not_issued"  # confirmed but no numbers: Stripe was unreachable (the konbini poll retries)
ATTENTION_STATUSES = {EXPIRED: PaymentStatus.EXPIRED, NOT_ISSUED: PaymentStatus.AWAITING_APPROVAL}


def needs_attention_condition(kind: str | None = None) -> Q:
    """Confirmed reservations whose konbini payment is expired or still without numbers (`kind`: one of them)."""
    statuses = [ATTENTION_STATUSES[kind]] if kind in ATTENTION_STATUSES else list(ATTENTION_STATUSES.values())
    return Q(status=Status.CONFIRMED, payment__method=Method.KONBINI, payment__status__in=statuses)


def needs_attention(reservations: QuerySet[Reservation] | None = None, kind: str | None = None
                    ) -> QuerySet[Reservation]:
    """``reservations`` (all by default) narrowed to those needing a konbini decision; one query to read."""
    reservations = Reservation.objects.all() if reservations is None else reservations
    return reservations.filter(needs_attention_condition(kind))


def attention_of(reservation: Reservation) -> str | None:
    """EXPIRED / NOT_ISSUED / None for one reservation whose payment is loaded (no query)."""
    payment = reservation.payment
    if reservation.status != Status.CONFIRMED or payment is None or not payment.is_konbini:
        return None
    return next((kind for kind, status in ATTENTION_STATUSES.items() if payment.status == status), None)


MAX_CHAIN = 50  # a safety bound: one-off requests are sent by hand, a handful per reservation at most


def replaced_payments(payment: Payment | None) -> list[Payment]:
    """The payments ``payment`` replaced (one-off requests, Payment.replaced_by), latest first."""
    found: list[Payment] = []
    while payment is not None and len(found) < MAX_CHAIN:
        payment = Payment.objects.filter(replaced_by=payment).first()
        if payment is not None:
            found.append(payment)
    return found


def reservation_of_payment(payment: Payment) -> Reservation | None:
    """The reservation a payment belongs to, also for a payment a one-off request replaced (the reservation
    holds the newest payment of the chain); with its shop and slot's event, which its pages show."""
    current, hops = payment, 0
    while current.replaced_by_id and hops < MAX_CHAIN:
        current, hops = Payment.objects.get(pk=current.replaced_by_id), hops + 1
    return Reservation.objects.select_related("shop", "slot__event").filter(payment_id=current.pk).first()
