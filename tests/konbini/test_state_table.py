"""Every row of SPEC 4.2's table through the real flow: reservations.payment_flow → stripe SDK → sandbox →
signed webhook → our endpoint on the live server → task (eager here) → payment + reservation + mails."""

from __future__ import annotations

import pytest

from payments.models import Status
from payments.services import sync_payment
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation, ReservationEvent, WaitlistPromotion
from reservations.models import Status as R
from reservations.payment_requests import can_request_payment
from reservations.selectors import seats_left
from tests.reservations.helpers import SYSTEM, make_slot

from .flow_helpers import (
    CUSTOMER_EMAIL,
    OPS_EMAIL,
    fresh,
    mails_of,
    notice,
    notified_staff,
    numbers_mail_ok,
    payment_of,
    stripe_calls,
    transitions,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("webhooks_to_us")

PRICE = 3000


def book(slot, name="山田 花子", email=CUSTOMER_EMAIL, seats=1):
    return payment_flow.book(slot, name=name, email=email, seats=seats, by=SYSTEM, payment_method="konbini")


def assert_numbers_issued(sandbox, payment, amount):
    """Numbers recorded from Stripe's answer, the voucher live at Stripe, and mailed to the customer."""
    assert payment.status == Status.AWAITING_PAYMENT
    assert payment.external_id.startswith("pi_")
    intent = sandbox.stripe_intent(payment.external_id)
    assert intent["status"] == "requires_action" and intent["amount"] == amount
    stores = intent["next_action"]["konbini_display_details"]["stores"]
    assert {chain: s["payment_code"] for chain, s in payment.konbini_numbers["stores"].items()} == {
        chain: s["payment_code"] for chain, s in stores.items()}
    assert payment.payment_deadline is not None
    assert wait_for(lambda: numbers_mail_ok(payment)), "the customer did not get one mail with the numbers"


def issued(sandbox) -> int:
    return len(stripe_calls(sandbox, "payment_intents.create"))


def test_booked_in_approval_mode_waits_without_any_stripe_call(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.APPROVAL, price=PRICE)
    reservation = book(slot, seats=2)
    payment = payment_of(reservation)
    assert reservation.status == R.PENDING_APPROVAL
    assert payment.status == Status.AWAITING_APPROVAL and payment.amount == 2 * PRICE
    assert payment.external_id == "" and payment.konbini_numbers == {}
    assert sandbox.calls() == []  # nothing at Stripe at all
    assert notice("konbini_numbers", payment) is None


def test_cancelled_while_pending_has_no_payment_effect(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.APPROVAL, price=PRICE, capacity=3)
    reservation = book(slot, seats=2)
    assert seats_left(slot) == 1
    payment_flow.cancel(reservation, by=SYSTEM)
    assert fresh(reservation).status == R.CANCELLED
    assert payment_of(reservation).status == Status.CANCELLED
    assert sandbox.calls() == []
    assert seats_left(slot) == 3


def test_approved_issues_numbers_and_mails_them(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.APPROVAL, price=PRICE)
    reservation = book(slot)
    assert issued(sandbox) == 0
    approved = payment_flow.approve(reservation, by=SYSTEM)
    assert approved.status == R.CONFIRMED
    assert issued(sandbox) == 1
    assert_numbers_issued(sandbox, payment_of(reservation), PRICE)


def test_booked_first_come_issues_numbers_at_once(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=PRICE)
    reservation = book(slot, seats=3)
    assert reservation.status == R.CONFIRMED
    assert reservation.payment.status == Status.AWAITING_PAYMENT  # the completion page can show them
    assert issued(sandbox) == 1
    assert_numbers_issued(sandbox, payment_of(reservation), 3 * PRICE)


def test_promoted_to_pending_gets_numbers_only_at_approval(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.APPROVAL, promotion=WaitlistPromotion.TO_PENDING,
                     price=PRICE, capacity=1)
    first = book(slot, name="先")
    waiting = book(slot, name="待", email="matsu@example.com")
    assert waiting.status == R.WAITLISTED and payment_of(waiting).status == Status.AWAITING_APPROVAL

    promoted = payment_flow.cancel(first, by=SYSTEM)

    assert [r.pk for r in promoted] == [waiting.pk]
    assert fresh(waiting).status == R.PENDING_APPROVAL
    assert payment_of(waiting).status == Status.AWAITING_APPROVAL
    assert sandbox.calls() == []  # neither the cancel nor the promotion touched Stripe

    payment_flow.approve(waiting, by=SYSTEM)
    assert fresh(waiting).status == R.CONFIRMED
    assert issued(sandbox) == 1
    assert_numbers_issued(sandbox, payment_of(waiting), PRICE)


def test_promoted_to_confirmed_gets_numbers_at_promotion(konbini_shop, sandbox):
    """Also SPEC 4.2's "a cancellation frees capacity and promotes the waitlist", with payments."""
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, promotion=WaitlistPromotion.TO_CONFIRMED,
                     price=PRICE, capacity=2)
    first = book(slot, name="先", seats=2)
    waiting = [book(slot, name=f"待{i}", email=f"wait{i}@example.com") for i in range(3)]
    assert [r.status for r in waiting] == [R.WAITLISTED] * 3
    assert [payment_of(r).external_id for r in waiting] == ["", "", ""]  # no numbers while waitlisted
    assert issued(sandbox) == 1

    promoted = payment_flow.cancel(first, by=SYSTEM)

    assert sandbox.stripe_intent(payment_of(first).external_id)["status"] == "canceled"
    assert [r.pk for r in promoted] == [waiting[0].pk, waiting[1].pk]
    assert [fresh(r).status for r in waiting] == [R.CONFIRMED, R.CONFIRMED, R.WAITLISTED]
    assert issued(sandbox) == 3
    for reservation in waiting[:2]:
        assert_numbers_issued(sandbox, payment_of(reservation), PRICE)
    assert payment_of(waiting[2]).status == Status.AWAITING_APPROVAL and payment_of(waiting[2]).external_id == ""
    assert seats_left(slot) == 0


def confirmed_with_numbers(konbini_shop, sandbox):
    notified_staff(konbini_shop)
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=PRICE)
    reservation = book(slot)
    payment = payment_of(reservation)
    assert payment.status == Status.AWAITING_PAYMENT
    assert wait_for(lambda: numbers_mail_ok(payment))
    return reservation, payment


def reservation_snapshot(reservation) -> tuple:
    found = Reservation.objects.get(pk=reservation.pk)
    return found.status, found.status_changed_at, found.seats


def history_count(reservation, prefix: str) -> int:
    return ReservationEvent.objects.filter(reservation=reservation, message__startswith=prefix).count()


def test_paid_at_the_store_leaves_the_reservation_and_tells_staff(konbini_shop, sandbox):
    reservation, payment = confirmed_with_numbers(konbini_shop, sandbox)
    before = reservation_snapshot(reservation)

    sandbox.stripe_pay(payment.external_id, store="lawson")

    assert wait_for(lambda: fresh(payment).status == Status.PAID), fresh(payment).status
    paid = fresh(payment)
    assert paid.captured_amount == PRICE
    assert reservation_snapshot(reservation) == before  # 確定, untouched
    assert wait_for(lambda: len(mails_of("konbini_paid", payment)) == 1)
    assert mails_of("konbini_paid", payment)[0].to == [OPS_EMAIL]
    assert notice("konbini_expired", payment) is None
    assert len(transitions(payment, Status.PAID)) == 1
    assert not can_request_payment(Reservation.objects.get(pk=reservation.pk))
    assert wait_for(lambda: history_count(reservation, "決済完了") == 1)  # shown in the reservation's history


def assert_expired_needs_decision(reservation, payment, before):
    assert wait_for(lambda: fresh(payment).status == Status.EXPIRED), fresh(payment).status
    assert reservation_snapshot(reservation) == before  # still 確定: never cancelled by the expiry
    assert wait_for(lambda: len(mails_of("konbini_expired", payment)) == 1)
    assert mails_of("konbini_expired", payment)[0].to == [OPS_EMAIL]
    assert notice("konbini_paid", payment) is None
    assert can_request_payment(Reservation.objects.select_related("payment").get(pk=reservation.pk))
    assert len(transitions(payment, Status.EXPIRED)) == 1
    assert wait_for(lambda: history_count(reservation, "決済エラー") == 1)


def test_deadline_passed_per_stripe_keeps_the_reservation_and_needs_a_decision(konbini_shop, sandbox):
    reservation, payment = confirmed_with_numbers(konbini_shop, sandbox)
    before = reservation_snapshot(reservation)

    sandbox.stripe_expire(payment.external_id)

    assert_expired_needs_decision(reservation, payment, before)


def test_deadline_is_stripes_word_not_our_clock(konbini_shop, sandbox):
    """Past the deadline but inside Stripe's grace period (a printed slip can still be paid), nothing moves;
    only once Stripe fails the payment is it 決済エラー."""
    reservation, payment = confirmed_with_numbers(konbini_shop, sandbox)
    before = reservation_snapshot(reservation)
    to_deadline = (fresh(payment).payment_deadline - sandbox.now()).total_seconds()

    sandbox.advance_clock(to_deadline + 600)  # 10 minutes late, inside the hour of grace
    sandbox.stripe_tick()
    assert [e["type"] for e in sandbox.stripe_events()][-1] == "payment_intent.requires_action"
    # A status check now (as the konbini poll runs) asks Stripe, which still waits: nothing moves.
    assert sync_payment(payment, actor=SYSTEM).payment.status == Status.AWAITING_PAYMENT
    assert fresh(payment).status == Status.AWAITING_PAYMENT and notice("konbini_expired", payment) is None

    sandbox.advance_clock(3600)  # now past deadline + grace: Stripe reports the failure
    sandbox.stripe_tick()

    assert_expired_needs_decision(reservation, payment, before)
