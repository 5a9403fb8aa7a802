"""Cancelling a konbini reservation, by payment state (SPEC 3.3): what happens at Stripe, what is recorded,
and that every cancel frees the seat (and only a real cancel does). Also the konbini amount limits."""

from __future__ import annotations

import pytest
import requests

from payments.errors import ChangedMeanwhile, InvalidAmount
from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
from refunds.models import RefundTask
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from reservations.selectors import seats_left
from tests.reservations.helpers import SYSTEM, make_slot

from .flow_helpers import fresh, notified_staff, payment_of, wait_for

PRICE = 4000


def stripe_ops(sandbox) -> list[str]:
    return [c["api"] for c in sandbox.calls()]


def booked(shop, *, mode=AcceptanceMode.FIRST_COME, seats=2):
    slot = make_slot(shop, mode=mode, price=PRICE, capacity=4, waitlist=False)
    reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", seats=seats, by=SYSTEM,
                                    payment_method="konbini")
    assert seats_left(slot) == 4 - seats
    return slot, reservation, payment_of(reservation)


def paid(sandbox, payment) -> Payment:
    sandbox.stripe_pay(payment.external_id)
    assert wait_for(lambda: fresh(payment).status == Status.PAID)
    return fresh(payment)


def cancel_ops(payment) -> list[PaymentOperation]:
    return list(PaymentOperation.objects.filter(payment=payment, kind=OperationKind.CANCEL))


def test_before_numbers_nothing_at_stripe(webhooks_to_us, konbini_shop, sandbox):
    slot, reservation, payment = booked(konbini_shop, mode=AcceptanceMode.APPROVAL)

    payment_flow.cancel(reservation, by=SYSTEM, reason="お客様都合")

    assert stripe_ops(sandbox) == []
    assert fresh(reservation).status == R.CANCELLED and fresh(payment).status == Status.CANCELLED
    [op] = cancel_ops(payment)
    assert op.state == OperationState.SUCCEEDED and op.gateway_job == "NONE" and op.amount == 0
    assert not RefundTask.objects.exists()
    assert seats_left(slot) == 4


def test_awaiting_payment_cancels_the_payment_intent(webhooks_to_us, konbini_shop, sandbox):
    slot, reservation, payment = booked(konbini_shop)
    assert payment.status == Status.AWAITING_PAYMENT

    payment_flow.cancel(reservation, by=SYSTEM)

    assert sandbox.stripe_intent(payment.external_id)["status"] == "canceled"
    assert stripe_ops(sandbox).count("payment_intents.cancel") == 1
    assert fresh(payment).status == Status.CANCELLED and fresh(reservation).status == R.CANCELLED
    assert cancel_ops(payment)[0].gateway_job == "CANCEL"
    assert not RefundTask.objects.exists()
    assert seats_left(slot) == 4
    with pytest.raises(requests.HTTPError, match="canceled"):  # the voucher is dead: nobody can pay it now
        sandbox.stripe_pay(payment.external_id)


def test_customer_at_the_register_refuses_the_cancel_and_changes_nothing(webhooks_to_us, konbini_shop, sandbox,
                                                                           english):
    slot, reservation, payment = booked(konbini_shop)
    sandbox.stripe_set_paying(payment.external_id)
    before = fresh(reservation)

    with pytest.raises(ChangedMeanwhile) as refused:
        payment_flow.cancel(reservation, by=SYSTEM)

    assert "paying at the store" in refused.value.message and "Nothing was changed" in refused.value.message
    after = fresh(reservation)
    assert (after.status, after.status_changed_at, after.events.count()) == (
        R.CONFIRMED, before.status_changed_at, before.events.count())
    now = fresh(payment)
    assert now.status == Status.AWAITING_PAYMENT and now.konbini_numbers == payment.konbini_numbers
    assert sandbox.stripe_intent(payment.external_id)["status"] == "requires_action"
    assert seats_left(slot) == 2  # the seats stay taken
    assert [op.state for op in cancel_ops(payment)] == [OperationState.FAILED]  # the refusal is on the ledger
    assert not PaymentOperation.objects.filter(payment=payment).unresolved().exists()

    # once the customer walks away, the same cancel goes through
    sandbox.stripe_set_paying(payment.external_id, on=False)
    payment_flow.cancel(reservation, by=SYSTEM)
    assert fresh(reservation).status == R.CANCELLED and fresh(payment).status == Status.CANCELLED
    assert seats_left(slot) == 4


def test_after_paid_opens_a_manual_refund_task_by_default(webhooks_to_us, konbini_shop, sandbox):
    notified_staff(konbini_shop)
    slot, reservation, payment = booked(konbini_shop)
    payment = paid(sandbox, payment)
    assert not konbini_shop.konbini_refunds_via_stripe

    payment_flow.cancel(reservation, by=SYSTEM)

    [task] = RefundTask.objects.filter(payment=payment)
    assert task.amount == 2 * PRICE == payment.captured_amount
    assert task.payee == "山田 花子"
    assert "refunds.create" not in stripe_ops(sandbox)
    assert sandbox.stripe_intent(payment.external_id)["status"] == "succeeded"
    assert cancel_ops(payment)[0].gateway_job == "MANUAL"
    assert fresh(payment).status == Status.CANCELLED and fresh(reservation).status == R.CANCELLED
    assert seats_left(slot) == 4


def test_after_paid_refunds_through_stripe_when_the_shop_says_so(webhooks_to_us, konbini_shop, sandbox):
    konbini_shop.konbini_refunds_via_stripe = True
    konbini_shop.save()
    slot, reservation, payment = booked(konbini_shop)
    payment = paid(sandbox, payment)

    payment_flow.cancel(reservation, by=SYSTEM)

    refunds = [e["data"]["object"] for e in sandbox.stripe_events() if e["type"] == "refund.created"]
    assert [(r["payment_intent"], r["amount"]) for r in refunds] == [(payment.external_id, 2 * PRICE)]
    assert not RefundTask.objects.exists()
    [op] = cancel_ops(payment)
    assert (op.state, op.gateway_job, op.gateway_status) == (OperationState.SUCCEEDED, "REFUND", "refund_needs_action")
    assert op.response["id"] == refunds[0]["id"]
    assert fresh(payment).status == Status.CANCELLED and fresh(reservation).status == R.CANCELLED
    assert seats_left(slot) == 4


def test_expired_cancels_the_payment_intent(webhooks_to_us, konbini_shop, sandbox):
    slot, reservation, payment = booked(konbini_shop)
    sandbox.stripe_expire(payment.external_id)
    assert wait_for(lambda: fresh(payment).status == Status.EXPIRED)
    assert fresh(reservation).status == R.CONFIRMED

    payment_flow.cancel(reservation, by=SYSTEM)

    assert sandbox.stripe_intent(payment.external_id)["status"] == "canceled"
    assert cancel_ops(payment)[0].gateway_job == "CANCEL"
    assert fresh(payment).status == Status.CANCELLED and fresh(reservation).status == R.CANCELLED
    assert not RefundTask.objects.exists()
    assert seats_left(slot) == 4


# ---- amount limits (Stripe's konbini range: 120-300,000 JPY); no webhooks needed ------------------------


@pytest.mark.parametrize(("price", "seats"), [(119, 1), (300_001, 1), (59, 2), (100_001, 3)])
def test_amount_outside_konbini_limits_is_refused_before_stripe(konbini_shop, sandbox, english, price, seats):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=price, capacity=5)

    with pytest.raises(InvalidAmount) as refused:
        payment_flow.book(slot, name="山田 花子", email="hanako@example.com", seats=seats, by=SYSTEM,
                          payment_method="konbini")

    assert "¥120" in refused.value.message and "¥300,000" in refused.value.message
    assert f"¥{price * seats:,}" in refused.value.message
    assert not Reservation.objects.exists() and not Payment.objects.exists()
    assert sandbox.calls() == []


@pytest.mark.parametrize("amount", [120, 300_000])
@pytest.mark.parametrize("mode", [AcceptanceMode.FIRST_COME, AcceptanceMode.APPROVAL])
def test_amount_at_the_limits_is_accepted(konbini_shop, sandbox, amount, mode):
    slot = make_slot(konbini_shop, mode=mode, price=amount, capacity=5)

    reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", by=SYSTEM,
                                    payment_method="konbini")

    payment = payment_of(reservation)
    assert payment.amount == amount
    if mode == AcceptanceMode.APPROVAL:
        assert payment.status == Status.AWAITING_APPROVAL and sandbox.calls() == []
        payment_flow.approve(reservation, by=SYSTEM)
        payment = payment_of(reservation)
    assert payment.status == Status.AWAITING_PAYMENT
    assert sandbox.stripe_intent(payment.external_id)["amount"] == amount
