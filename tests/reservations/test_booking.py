"""Booking outcomes per acceptance mode, seat holding, cancellation with waitlist promotion, refusals."""

import pytest

from payments.actors import Actor
from reservations import services
from reservations.errors import InvalidSeats, InvalidTransition, NotPermitted, SlotFull, UnknownReservation
from reservations.models import AcceptanceMode, Reservation, ReservationEvent, Status, WaitlistPromotion
from reservations.selectors import waitlist_position
from reservations.signals import reservation_cancelled, reservation_confirmed
from tests.factories import member
from tests.reservations.helpers import SYSTEM, book, make_slot

pytestmark = pytest.mark.django_db

FIRST, APPROVAL = AcceptanceMode.FIRST_COME, AcceptanceMode.APPROVAL


@pytest.mark.parametrize(("mode", "full", "waitlist", "expected"), [
    (FIRST, False, True, Status.CONFIRMED),
    (FIRST, True, True, Status.WAITLISTED),
    (FIRST, True, False, SlotFull),
    (APPROVAL, False, True, Status.PENDING_APPROVAL),
    (APPROVAL, True, True, Status.WAITLISTED),
    (APPROVAL, True, False, SlotFull),
])
def test_booking_outcomes(shop, mode, full, waitlist, expected):
    slot = make_slot(shop, mode=mode, waitlist=waitlist, capacity=3)
    if full:
        book(slot, seats=3)
    before = Reservation.objects.count()
    if expected is SlotFull:
        with pytest.raises(SlotFull) as refused:
            book(slot, seats=1)
        assert "0" in refused.value.message
        assert Reservation.objects.count() == before  # a refusal writes nothing
        return
    reservation = book(slot, seats=1)
    assert reservation.status == expected
    assert reservation.shop_id == shop.pk
    assert reservation.events.count() == 1


def test_pending_approval_holds_seats(shop):
    slot = make_slot(shop, mode=APPROVAL, capacity=4)
    book(slot, seats=3)
    assert services.seats_taken(slot) == 3 and services.seats_left(slot) == 1
    assert book(slot, seats=2).status == Status.WAITLISTED
    assert book(slot, seats=1).status == Status.PENDING_APPROVAL
    assert services.seats_left(slot) == 0


def test_party_larger_than_capacity_is_refused_not_waitlisted(shop):
    slot = make_slot(shop, capacity=2)
    with pytest.raises(SlotFull):
        book(slot, seats=3)
    with pytest.raises(InvalidSeats):
        book(slot, seats=0)
    assert not Reservation.objects.exists()


def test_approve_confirms_and_signals_after_commit(shop, django_capture_on_commit_callbacks):
    slot = make_slot(shop, mode=APPROVAL)
    reservation = book(slot, seats=2)
    received = []
    reservation_confirmed.connect(lambda sender, reservation, **kw: received.append(reservation.pk), weak=False,
                                  dispatch_uid="test-approve")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.approve(reservation, SYSTEM)
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        reservation_confirmed.disconnect(dispatch_uid="test-approve")
    assert received == [reservation.pk]
    reservation.refresh_from_db()
    assert reservation.status == Status.CONFIRMED
    with pytest.raises(InvalidTransition):
        services.approve(reservation, SYSTEM)


@pytest.mark.parametrize(("promotion", "target"), [
    (WaitlistPromotion.TO_CONFIRMED, Status.CONFIRMED),
    (WaitlistPromotion.TO_PENDING, Status.PENDING_APPROVAL),
])
def test_cancel_promotes_waitlist_in_order(shop, promotion, target, django_capture_on_commit_callbacks):
    slot = make_slot(shop, promotion=promotion, capacity=4)
    big = book(slot, seats=4, name="big")
    first, too_big, second, third = (book(slot, seats=s, name=n) for s, n in
                                     ((2, "first"), (3, "too_big"), (1, "second"), (1, "third")))
    assert [waitlist_position(r) for r in (first, too_big, second, third)] == [1, 2, 3, 4]
    confirmed, cancelled = [], []
    reservation_confirmed.connect(lambda sender, reservation, **kw: confirmed.append(reservation.customer_name),
                                  weak=False, dispatch_uid="t-conf")
    reservation_cancelled.connect(lambda sender, reservation, **kw: cancelled.append(reservation.customer_name),
                                  weak=False, dispatch_uid="t-canc")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            promoted = services.cancel(big, SYSTEM, "体調不良")
    finally:
        reservation_confirmed.disconnect(dispatch_uid="t-conf")
        reservation_cancelled.disconnect(dispatch_uid="t-canc")
    # 4 seats free: first (2) fits, too_big (3) does not and keeps its place, second and third (1+1) fit.
    assert [r.customer_name for r in promoted] == ["first", "second", "third"]
    assert all(r.status == target for r in promoted)
    too_big.refresh_from_db()
    assert too_big.status == Status.WAITLISTED and waitlist_position(too_big) == 1
    assert services.seats_left(slot) == 0
    assert cancelled == ["big"]
    assert confirmed == (["first", "second", "third"] if target == Status.CONFIRMED else [])
    assert ReservationEvent.objects.filter(reservation=big, message__contains="体調不良").exists()


def test_cancelling_a_waitlisted_one_promotes_nobody(shop):
    slot = make_slot(shop, capacity=1)
    book(slot)
    waiting, behind = book(slot, name="w1"), book(slot, name="w2")
    assert services.cancel(waiting, SYSTEM) == []
    behind.refresh_from_db()
    assert behind.status == Status.WAITLISTED and waitlist_position(behind) == 1


def test_manual_promote(shop):
    slot = make_slot(shop, mode=APPROVAL, promotion=WaitlistPromotion.TO_PENDING, capacity=2)
    held = book(slot, seats=2)
    waiting = book(slot, seats=1)
    with pytest.raises(SlotFull):
        services.promote(waiting, SYSTEM)
    assert Reservation.objects.get(pk=waiting.pk).status == Status.WAITLISTED
    # Cancel with the head promoted automatically, then a manual promotion of a later one when room is left.
    late = book(slot, seats=1, name="late")
    services.cancel(held, SYSTEM)
    waiting.refresh_from_db(), late.refresh_from_db()
    assert waiting.status == Status.PENDING_APPROVAL and late.status == Status.PENDING_APPROVAL
    with pytest.raises(InvalidTransition):
        services.promote(late, SYSTEM)


def test_manual_promote_when_seats_appear_otherwise(shop):
    # Cancellations promote by themselves; manual promotion is for seats freed otherwise (capacity raised),
    # and staff may pick someone out of line.
    slot = make_slot(shop, capacity=2)
    book(slot, seats=2)
    head = book(slot, seats=2, name="head")
    small = book(slot, seats=1, name="small")
    type(slot).objects.filter(pk=slot.pk).update(capacity=3)
    promoted = services.promote(small, SYSTEM)
    assert promoted.status == Status.CONFIRMED
    head.refresh_from_db()
    assert head.status == Status.WAITLISTED
    with pytest.raises(SlotFull):
        services.promote(head, SYSTEM)


def test_refusals_change_nothing(shop, other_shop):
    slot = make_slot(shop, mode=APPROVAL, capacity=2)
    reservation = book(slot)
    viewer = member(shop, "viewer")
    outsider = member(other_shop, "admin")
    events_before = ReservationEvent.objects.count()
    for actor in (Actor.for_user(viewer), Actor.for_user(outsider)):
        for operation in (services.approve, services.cancel):
            with pytest.raises(NotPermitted):
                operation(reservation, actor)
    with pytest.raises(NotPermitted):
        services.book(slot, name="x", seats=1, by=Actor.for_user(outsider))
    with pytest.raises(UnknownReservation):
        services.approve(999999, SYSTEM)
    with pytest.raises(UnknownReservation):
        services.book(999999, name="x", seats=1, by=SYSTEM)
    with pytest.raises(InvalidTransition) as wrong:
        services.promote(reservation, SYSTEM)
    assert "waitlisted" in wrong.value.message.lower() or wrong.value.message
    reservation.refresh_from_db()
    assert reservation.status == Status.PENDING_APPROVAL
    assert ReservationEvent.objects.count() == events_before
    assert Reservation.objects.count() == 1


def test_operator_approves_with_permission(shop, operator):
    slot = make_slot(shop, mode=APPROVAL)
    reservation = services.approve(book(slot), Actor.for_user(operator))
    assert reservation.status == Status.CONFIRMED
    assert reservation.events.last().actor_label == operator.get_username()


def test_status_cannot_be_assigned_directly(shop):
    reservation = book(make_slot(shop))
    with pytest.raises(AttributeError):
        reservation.status = Status.CANCELLED
