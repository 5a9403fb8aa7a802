"""Read-side questions about slots: seats taken / left, and the waitlist in its order."""

from __future__ import annotations

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from reservations.models import HOLDING, Reservation, Slot, Status


def _slot_id(slot) -> int:
    return slot.pk if isinstance(slot, Slot) else int(slot)


def seats_taken(slot) -> int:
    """Seats held by confirmed and pending-approval reservations (a pending one holds its seats)."""
    total = Reservation.objects.filter(slot_id=_slot_id(slot), status__in=HOLDING).aggregate(n=Sum("seats"))["n"]
    return total or 0


def with_seats_taken(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    """``slots`` annotated with ``seats_taken`` (as seats_taken()), in the same query: for lists of slots."""
    return slots.annotate(seats_taken=Coalesce(
        Sum("reservations__seats", filter=Q(reservations__status__in=HOLDING)), 0))


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
