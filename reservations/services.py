"""Booking, approving, cancelling and promoting reservations (SPEC 4.2).

Concurrency: every write first locks the SLOT row (select_for_update), then the reservation rows, always
in that order. The slot lock serialises all seat arithmetic of one slot, so "count seats, then insert or
move a reservation" can never interleave with another writer and oversell; the fixed order rules out
deadlocks between e.g. a cancel and an approval of the same slot.

Waitlist rule: after seats are freed, waitlisted reservations are promoted in booking order, each one
that now fits; one that does not fit stays first in line but does not block smaller parties behind it.
So after every write no waitlisted reservation fits into the free seats, and a new booking that fits
takes no seat a waiting party could have had.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from payments.actors import Actor
from payments.models import Payment
from payments.services import create_konbini_payment
from reservations.errors import InvalidSeats, InvalidTransition, SlotFull, UnknownReservation
from reservations.models import AcceptanceMode, PaymentMethod, Reservation, ReservationEvent, Slot, Status
from reservations.selectors import seats_left, seats_taken, waitlist
from reservations.signals import reservation_cancelled, reservation_confirmed, send_on_commit
from shops.roles import Perm

__all__ = ["approve", "book", "cancel", "promote", "seats_left", "seats_taken"]


def _pk(obj_or_id) -> int:
    return obj_or_id.pk if hasattr(obj_or_id, "pk") else int(obj_or_id)


def _lock_slot(slot_id: int) -> Slot:
    # of=("self",): lock the slot row only, not the joined event row (other slots stay writable).
    slot = Slot.objects.select_for_update(of=("self",)).select_related("event").filter(pk=slot_id).first()
    if slot is None:
        raise UnknownReservation()
    return slot


def lock_reservation(reservation) -> tuple[Slot, Reservation]:
    """Lock the slot, then the reservation, and return both freshly read."""
    pk = _pk(reservation)
    # slot_id never changes, so reading it unlocked is safe; the status is re-read after the lock.
    slot_id = Reservation.objects.filter(pk=pk).values_list("slot_id", flat=True).first()
    if slot_id is None:
        raise UnknownReservation()
    slot = _lock_slot(slot_id)
    return slot, Reservation.objects.select_for_update().get(pk=pk)


def record(reservation: Reservation, by: Actor, message: str) -> None:
    ReservationEvent.objects.create(reservation=reservation, message=message, actor_id=by.user_id,
                                    actor_label=by.label)


def _moved(reservation: Reservation, by: Actor, message: str) -> None:
    reservation.save()
    record(reservation, by, message)
    if reservation.status == Status.CONFIRMED:
        send_on_commit(reservation_confirmed, reservation)


# The transition each operation runs (their sources are the model's).
TRANSITIONS = {"approve": "mark_approved", "cancel": "mark_cancelled", "promote": "mark_promoted"}


def check_transition(reservation: Reservation, by: Actor, operation: str) -> None:
    """Raise unless ``by`` may run ``operation`` on the reservation as it is now (NotPermitted, InvalidTransition)."""
    by.require(reservation.shop_id, Perm.APPROVE_RESERVATIONS)
    if not can_proceed(getattr(reservation, TRANSITIONS[operation])):
        raise refuse_transition(reservation, operation)


def refuse_transition(reservation: Reservation, operation: str):
    # Whole sentences per operation, so the catalog can translate each one naturally.
    message = {
        "approve": _("This reservation is %(status)s; only a reservation pending approval can be approved."),
        "cancel": _("This reservation is %(status)s; it cannot be cancelled again."),
        "promote": _("This reservation is %(status)s; only a waitlisted reservation can be promoted."),
    }[operation]
    return InvalidTransition(message % {"status": reservation.get_status_display()})


def book(slot, *, name: str, email: str = "", seats: int = 1, by: Actor,
         payment_method: str = PaymentMethod.NONE, request_key: str | None = None) -> Reservation:
    """First-come → confirmed, approval → pending approval (holding seats); when full → waitlisted if the
    event has a waitlist, else SlotFull. Nothing is written when refused.

    With konbini, the reservation's payment is created here with no numbers (承認後にコンビニ支払い番号を
    発行); reservations.payment_flow issues them once the reservation is confirmed.
    """
    if not isinstance(seats, int) or seats < 1:
        raise InvalidSeats()
    if payment_method not in PaymentMethod.values:
        raise InvalidTransition(_("Unknown payment method."))
    with transaction.atomic():
        slot = _lock_slot(_pk(slot))
        event = slot.event
        # Booking needs no operation permission (customers book), only an actor of this shop.
        by.require(event.shop_id, Perm.VIEW)
        if request_key:
            # Under the slot lock, so the second of two identical POSTs sees the first one's reservation.
            earlier = Reservation.objects.filter(request_key=request_key).first()
            if earlier is not None:
                if earlier.slot_id != slot.pk:
                    raise InvalidTransition(_("This booking form was already used; reload the page."))
                return earlier
        if seats > slot.capacity:
            # It could never fit: waitlisting it would only promise a seat that cannot come.
            raise SlotFull(_("A party of %(seats)s does not fit this slot (capacity %(capacity)s).")
                           % {"seats": seats, "capacity": slot.capacity})
        left = seats_left(slot)
        if seats <= left:
            first_come = event.acceptance_mode == AcceptanceMode.FIRST_COME
            status = Status.CONFIRMED if first_come else Status.PENDING_APPROVAL
        elif event.waitlist_enabled:
            status = Status.WAITLISTED
        else:
            raise SlotFull(_("Only %(left)s seats are left in this slot; %(seats)s were asked for.")
                           % {"left": left, "seats": seats})
        payment = None
        if payment_method == PaymentMethod.KONBINI and event.price:
            payment = create_konbini_payment(event.shop, amount=event.price * seats, reference=event.title[:40],
                                             payer_name=name, payer_email=email, actor=by)
        reservation = Reservation.objects.create(
            slot=slot, shop_id=event.shop_id, customer_name=name, customer_email=email, seats=seats,
            status=status, status_changed_at=timezone.now(), payment_method=payment_method, payment=payment,
            request_key=request_key or None)
        if payment is not None:
            Payment.objects.filter(pk=payment.pk).update(reference=f"R{reservation.pk} {event.title}"[:64])
        _moved(reservation, by, f"予約受付: {reservation.get_status_display()} ({seats}席)")
    return reservation


def approve(reservation, by: Actor) -> Reservation:
    """承認: pending approval → confirmed. Its seats were held since booking, so no capacity check."""
    with transaction.atomic():
        _slot, reservation = lock_reservation(reservation)
        check_transition(reservation, by, "approve")
        reservation.mark_approved(at=timezone.now())
        _moved(reservation, by, "承認: 確定")
    return reservation


def cancel(reservation, by: Actor, reason: str = "") -> list[Reservation]:
    """キャンセル: frees the seats and promotes the waitlist. Returns the reservations promoted."""
    with transaction.atomic():
        slot, reservation = lock_reservation(reservation)
        check_transition(reservation, by, "cancel")
        freed = reservation.holds_seats
        reservation.mark_cancelled(at=timezone.now())
        _moved(reservation, by, "キャンセル" + (f": {reason}" if reason else ""))
        send_on_commit(reservation_cancelled, reservation)
        promoted = _promote_waitlist(slot, by) if freed else []
    return promoted


def _promote_waitlist(slot: Slot, by: Actor) -> list[Reservation]:
    left = seats_left(slot)
    promoted = []
    for waiting in waitlist(slot).select_for_update():
        if left <= 0:
            break
        if waiting.seats > left:
            continue  # stays first in line; see the module docstring
        waiting.mark_promoted(slot.event.waitlist_promotion, at=timezone.now())
        _moved(waiting, by, f"キャンセル待ち繰り上げ: {waiting.get_status_display()}")
        left -= waiting.seats
        promoted.append(waiting)
    return promoted


def promote(reservation, by: Actor) -> Reservation:
    """Manual 繰り上げ of one waitlisted reservation (staff may pick one out of line) when its seats fit."""
    with transaction.atomic():
        slot, reservation = lock_reservation(reservation)
        check_transition(reservation, by, "promote")
        left = seats_left(slot)
        if reservation.seats > left:
            raise SlotFull(_("Only %(left)s seats are free; this reservation needs %(seats)s.")
                           % {"left": left, "seats": reservation.seats})
        reservation.mark_promoted(slot.event.waitlist_promotion, at=timezone.now())
        _moved(reservation, by, f"手動繰り上げ: {reservation.get_status_display()}")
    return reservation
