"""Stripe calls whose answer was lost (SPEC 7): the operation stays unknown and blocks the payment, and a
status check settles it from Stripe's own records (its event log for a create, a retrieve for a cancel),
never by sending the request again."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments.errors import OutcomeUnknown, PaymentBusy
from payments.konbini_operations import EVENT_LOG_SETTLE
from payments.models import OperationKind, OperationState, PaymentOperation, Status
from payments.services import cancel_payment, issue_konbini_numbers, sync_payment
from reservations import payment_flow
from reservations.models import AcceptanceMode, WaitlistPromotion
from reservations.models import Status as R
from reservations.selectors import seats_left
from tests.reservations.helpers import SYSTEM, make_slot

from .flow_helpers import fresh, notice, numbers_mail_ok, payment_of, stripe_calls

pytestmark = pytest.mark.django_db(transaction=True)  # the mails and the settled cancel run after commits


def lose_answer_of(sandbox, op: str, action: str = "drop_response") -> None:
    # Faults for Stripe are keyed by operation name (gateways/sandbox/server.py STRIPE_ROUTES).
    sandbox.set_faults(rules=[{"api": op, "action": action, "times": 1}])


def book(slot, name="山田 花子", email="hanako@example.com"):
    return payment_flow.book(slot, name=name, email=email, by=SYSTEM, payment_method="konbini")


def only_op(payment, kind) -> PaymentOperation:
    [op] = PaymentOperation.objects.filter(payment_id=payment.pk, kind=kind)
    return op


def test_lost_create_is_settled_from_stripes_event_log(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3000)
    lose_answer_of(sandbox, "payment_intents.create")

    reservation = book(slot)  # the confirmation stands; the numbers are not known yet

    assert reservation.status == R.CONFIRMED
    payment = payment_of(reservation)
    issue = only_op(payment, OperationKind.ISSUE_NUMBERS)
    assert issue.state == OperationState.UNKNOWN
    assert payment.status == Status.AWAITING_APPROVAL and payment.external_id == ""
    [created] = stripe_calls(sandbox, "payment_intents.create")
    assert created["fault"] == "drop_response"  # Stripe did create it: only the answer was lost
    [intent_id] = [i["data"]["object"]["id"] for i in sandbox.stripe_events() if i["type"] == "payment_intent.created"]
    assert notice("konbini_numbers", payment) is None

    # While unresolved, nothing else may start on the payment: not a second issue, not a cancel.
    with pytest.raises(PaymentBusy):
        issue_konbini_numbers(payment, by=SYSTEM)
    with pytest.raises(PaymentBusy):
        payment_flow.cancel(reservation, by=SYSTEM)
    assert payment_flow.issue_numbers_if_confirmed(reservation, by=SYSTEM) is False
    assert fresh(reservation).status == R.CONFIRMED
    assert len(stripe_calls(sandbox, "payment_intents.create")) == 1

    result = sync_payment(payment, actor=SYSTEM)

    settled = fresh(payment)
    assert settled.status == Status.AWAITING_PAYMENT and result.payment.status == Status.AWAITING_PAYMENT
    assert settled.external_id == intent_id
    stores = sandbox.stripe_intent(intent_id)["next_action"]["konbini_display_details"]["stores"]
    assert {c: s["payment_code"] for c, s in settled.konbini_numbers["stores"].items()} == {
        c: s["payment_code"] for c, s in stores.items()}
    issue = only_op(payment, OperationKind.ISSUE_NUMBERS)
    assert issue.state == OperationState.SUCCEEDED and "applied at Stripe" in issue.resolution
    assert len(stripe_calls(sandbox, "payment_intents.create")) == 1  # never sent again
    assert stripe_calls(sandbox, "events.list")  # found where Stripe records what it did
    assert numbers_mail_ok(settled)  # the customer gets the numbers once they are known

    # settled: the payment takes operations again
    payment_flow.cancel(reservation, by=SYSTEM)
    assert sandbox.stripe_intent(intent_id)["status"] == "canceled"
    assert fresh(reservation).status == R.CANCELLED


def test_create_that_never_ran_is_settled_as_not_applied_then_issued_once(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3000)
    lose_answer_of(sandbox, "payment_intents.create", action="error")  # a 500 before Stripe did anything

    reservation = book(slot)

    payment = payment_of(reservation)
    assert only_op(payment, OperationKind.ISSUE_NUMBERS).state == OperationState.UNKNOWN  # a 5xx may have run
    assert sandbox.stripe_events() == []

    # Right away, "no such create in the event log" may only be the log lagging: still unknown, still busy.
    sync_payment(payment, actor=SYSTEM)
    assert only_op(payment, OperationKind.ISSUE_NUMBERS).state == OperationState.UNKNOWN
    with pytest.raises(PaymentBusy):
        issue_konbini_numbers(fresh(payment), by=SYSTEM)

    with time_machine.travel(timezone.now() + EVENT_LOG_SETTLE + timedelta(seconds=5)):
        sync_payment(payment, actor=SYSTEM)

    assert only_op(payment, OperationKind.ISSUE_NUMBERS).state == OperationState.FAILED
    assert fresh(payment).status == Status.AWAITING_APPROVAL and fresh(payment).external_id == ""
    # now a new issue is safe (what the konbini poll does for a confirmed reservation without numbers)
    assert payment_flow.issue_numbers_if_confirmed(reservation, by=SYSTEM) is True
    assert fresh(payment).status == Status.AWAITING_PAYMENT
    assert len([e for e in sandbox.stripe_events() if e["type"] == "payment_intent.created"]) == 1
    assert numbers_mail_ok(fresh(payment))


def test_lost_cancel_is_settled_by_retrieve_and_finishes_the_reservation(konbini_shop, sandbox, english):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, promotion=WaitlistPromotion.TO_CONFIRMED,
                     price=3000, capacity=1)
    first = book(slot)
    waiting = book(slot, name="待", email="wait@example.com")
    payment = payment_of(first)
    assert payment.status == Status.AWAITING_PAYMENT and waiting.status == R.WAITLISTED
    lose_answer_of(sandbox, "payment_intents.cancel")

    with pytest.raises(OutcomeUnknown):
        payment_flow.cancel(first, by=SYSTEM)

    assert sandbox.stripe_intent(payment.external_id)["status"] == "canceled"  # it did happen at Stripe
    assert fresh(first).status == R.CONFIRMED and fresh(payment).status == Status.AWAITING_PAYMENT
    assert fresh(waiting).status == R.WAITLISTED and seats_left(slot) == 0  # nothing half-done meanwhile
    assert only_op(payment, OperationKind.CANCEL).state == OperationState.UNKNOWN
    with pytest.raises(PaymentBusy):
        cancel_payment(fresh(payment), by=SYSTEM)
    with pytest.raises(PaymentBusy):
        payment_flow.cancel(first, by=SYSTEM)
    assert len(stripe_calls(sandbox, "payment_intents.cancel")) == 1

    sync_payment(payment, actor=SYSTEM)

    op = only_op(payment, OperationKind.CANCEL)
    assert op.state == OperationState.SUCCEEDED and "applied at Stripe" in op.resolution
    assert fresh(payment).status == Status.CANCELLED
    assert len(stripe_calls(sandbox, "payment_intents.cancel")) == 1  # settled by retrieve, not by re-sending
    # the reservation's side is finished once the cancel is known: seat freed, waitlist promoted with numbers
    assert fresh(first).status == R.CANCELLED
    assert fresh(waiting).status == R.CONFIRMED
    promoted = payment_of(waiting)
    assert promoted.status == Status.AWAITING_PAYMENT and numbers_mail_ok(promoted)
    assert seats_left(slot) == 0


def test_lost_cancel_that_did_not_happen_leaves_the_reservation(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3000, capacity=1)
    first = book(slot)
    payment = payment_of(first)
    lose_answer_of(sandbox, "payment_intents.cancel", action="error")

    with pytest.raises(OutcomeUnknown):
        payment_flow.cancel(first, by=SYSTEM)
    sync_payment(payment, actor=SYSTEM)

    assert only_op(payment, OperationKind.CANCEL).state == OperationState.FAILED
    assert fresh(payment).status == Status.AWAITING_PAYMENT and fresh(first).status == R.CONFIRMED
    assert sandbox.stripe_intent(payment.external_id)["status"] == "requires_action"
    assert seats_left(slot) == 0
