"""SPEC 3.2: a capture with an unsent amount change fails at the PG, so we never let it start; once the change is
sent, the capture carries the new amount. Lost answers are resolved from SearchTradeMulti, never by resending.
"""

from __future__ import annotations

import re

import pytest

from orders.editing import LineChange, edit_order
from orders.models import Fulfilment, Order
from payments import services
from payments.actors import Actor
from payments.errors import GatewayDeclined, InvalidTransition, OutcomeUnknown, PaymentBusy
from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
from tests.wallet.conftest import authorized, fresh, mutating_calls, snapshot

# transaction=True: the orders app hears of payment changes on commit (payments.signals), as in production.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

UNSENT = "The order's amount was changed but the change has not been sent to the PG. Send the change to the PG first"
NOTHING_TO_SEND = "There is no unsent amount change to send to the PG."


def record_by_service(order: Order, amount: int, actor: Actor) -> None:
    services.record_amount_change(fresh(order).payment, new_amount=amount, by=actor)


def record_by_editing(order: Order, amount: int, actor: Actor) -> None:
    order = fresh(order)
    line = order.lines.get()
    edit_order(order, lines=[LineChange(line.pk, 1, amount)], shipping_fee=0, fees=0, by=actor)


RECORDERS = {"record_amount_change": record_by_service, "edit_order": record_by_editing}


@pytest.mark.parametrize("record", RECORDERS.values(), ids=RECORDERS.keys())
def test_capture_with_an_unsent_change_is_refused_and_never_reaches_the_sandbox(record, shop, sandbox, wallet_clock,
                                                                                 actor):
    order = authorized(shop, sandbox, amount=5000)
    record(order, 4000, actor)
    payment = fresh(order).payment
    assert (payment.amount, payment.pending_amount) == (5000, 4000)
    unchanged = snapshot(order, sandbox)
    sandbox.clear_calls()

    with pytest.raises(InvalidTransition, match=re.escape(UNSENT)):
        services.capture_payment(payment, by=actor)

    assert sandbox.calls("RecruitSales") == [] and mutating_calls(sandbox) == []
    assert snapshot(order, sandbox) == unchanged
    assert fresh(order).payment.pending_amount == 4000  # still waiting to be sent
    pg = sandbox.wallet_transaction(payment.gateway_order_id)
    assert (pg["status"], pg["amount"]) == ("AUTH", 5000)


@pytest.mark.parametrize("record", RECORDERS.values(), ids=RECORDERS.keys())
def test_after_sending_the_change_the_capture_carries_the_new_amount(record, shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000)
    record(order, 4000, actor)
    sandbox.clear_calls()

    op = services.send_amount_change(fresh(order).payment, by=actor)
    assert op.gateway_job == "CHANGE" and (op.previous_amount, op.amount) == (5000, 4000)
    assert "The wallet e-mails the buyer about the change." in op.explanation
    [change] = sandbox.calls("RecruitChange")
    assert change["params"]["Amount"] == "4000"
    payment = fresh(order).payment
    assert (payment.status, payment.amount, payment.pending_amount) == (Status.AUTHORIZED, 4000, None)
    [notice] = sandbox.wallet_buyer_notices(payment.gateway_order_id)
    assert (notice["previous_amount"], notice["amount"]) == (5000, 4000)

    # Nothing is left to send: the "send" button is disabled.
    with pytest.raises(InvalidTransition, match=re.escape(NOTHING_TO_SEND)):
        services.send_amount_change(payment, by=actor)

    services.capture_payment(payment, by=actor)
    [sales] = sandbox.calls("RecruitSales")
    assert sales["params"]["Amount"] == "4000", "the capture carries the amount the PG now holds"
    pg = sandbox.wallet_transaction(payment.gateway_order_id)
    assert (pg["status"], pg["amount"]) == ("SALES", 4000)
    payment = fresh(order).payment
    assert (payment.status, payment.captured_amount) == (Status.CAPTURED, 4000)
    assert fresh(order).fulfilment_status == Fulfilment.PAID


def test_an_edit_back_to_the_amount_the_pg_holds_leaves_nothing_to_send(shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000)
    record_by_editing(order, 4000, actor)
    record_by_editing(order, 5000, actor)
    payment = fresh(order).payment
    assert payment.pending_amount is None
    with pytest.raises(InvalidTransition, match=re.escape(NOTHING_TO_SEND)):
        services.send_amount_change(payment, by=actor)
    sandbox.clear_calls()
    services.capture_payment(payment, by=actor)
    assert sandbox.calls("RecruitSales")[0]["params"]["Amount"] == "5000"
    assert sandbox.calls("RecruitChange") == []


def test_a_change_the_pg_refuses_stays_unsent_and_capture_stays_blocked(shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000)
    record_by_service(order, 4000, actor)
    sandbox.set_faults(rules=[{"api": "RecruitChange", "action": "error", "err_info": "E92000001", "times": 1}])
    with pytest.raises(GatewayDeclined):
        services.send_amount_change(fresh(order).payment, by=actor)
    payment = fresh(order).payment
    assert (payment.status, payment.amount, payment.pending_amount) == (Status.AUTHORIZED, 5000, 4000)
    assert sandbox.wallet_buyer_notices(payment.gateway_order_id) == []
    sandbox.clear_calls()
    with pytest.raises(InvalidTransition, match=re.escape(UNSENT)):
        services.capture_payment(payment, by=actor)
    assert sandbox.calls("RecruitSales") == []


def test_capture_whose_answer_is_lost_is_resolved_by_sync_without_a_second_capture(shop, sandbox, wallet_clock,
                                                                                    actor):
    order = authorized(shop, sandbox, amount=5000)
    record_by_service(order, 4000, actor)
    services.send_amount_change(fresh(order).payment, by=actor)
    sandbox.clear_calls()
    sandbox.set_faults(rules=[{"api": "RecruitSales", "action": "drop_response", "times": 1}])

    with pytest.raises(OutcomeUnknown):
        services.capture_payment(fresh(order).payment, by=actor)

    op = PaymentOperation.objects.get(payment_id=order.payment_id, kind=OperationKind.CAPTURE)
    payment = fresh(order).payment
    assert op.state == OperationState.UNKNOWN
    assert payment.status == Status.AUTHORIZED, "we do not guess"
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "SALES"  # the PG did apply it

    # While unresolved, nothing else starts on the payment, not even the same capture again.
    for attempt in (services.capture_payment, services.cancel_payment):
        with pytest.raises(PaymentBusy):
            attempt(fresh(order).payment, by=actor)

    result = services.sync_payment(fresh(order).payment, actor=actor)
    op.refresh_from_db()
    payment = fresh(order).payment
    assert op.state == OperationState.SUCCEEDED and "SearchTrade" in op.resolution
    assert result.resolved and not result.discrepancies
    assert (payment.status, payment.amount, payment.captured_amount) == (Status.CAPTURED, 4000, 4000)
    assert payment.captured_at is not None
    assert fresh(order).fulfilment_status == Fulfilment.PAID
    sales = sandbox.calls("RecruitSales")
    assert len(sales) == 1, "the capture was never sent twice"
    assert sales[0]["params"]["Amount"] == "4000" and sales[0]["fault"] == "drop_response"


def test_amount_change_whose_answer_is_lost_is_resolved_by_sync_then_capture_carries_it(shop, sandbox,
                                                                                        wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000)
    record_by_service(order, 4000, actor)
    sandbox.set_faults(rules=[{"api": "RecruitChange", "action": "drop_response", "times": 1}])
    with pytest.raises(OutcomeUnknown):
        services.send_amount_change(fresh(order).payment, by=actor)
    payment = fresh(order).payment
    assert (payment.amount, payment.pending_amount) == (5000, 4000)
    assert sandbox.wallet_transaction(payment.gateway_order_id)["amount"] == 4000  # applied at the PG
    sandbox.clear_calls()
    with pytest.raises(PaymentBusy):
        services.capture_payment(payment, by=actor)
    assert sandbox.calls("RecruitSales") == []

    services.sync_payment(payment, actor=actor)
    payment = fresh(order).payment
    assert (payment.amount, payment.pending_amount) == (4000, None)
    op = Payment.objects.get(pk=payment.pk).operations.get(kind=OperationKind.CHANGE_AMOUNT)
    assert op.state == OperationState.SUCCEEDED
    services.capture_payment(payment, by=actor)
    assert sandbox.calls("RecruitSales")[0]["params"]["Amount"] == "4000"
    assert len(sandbox.calls("RecruitChange")) == 0, "the change was never sent twice"
