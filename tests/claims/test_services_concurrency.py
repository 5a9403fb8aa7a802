"""Two operators, refusals and lost answers: one open claim per order ("changed meanwhile" for the second),
a refused refund leaves nothing behind, a lost answer keeps the claim pending until the sync settles it."""

from __future__ import annotations

from unittest import mock

import pytest

from claims import services as claims
from claims.models import Claim, ClaimKind, ClaimState, Party, Reason, RefundState
from payments.errors import ChangedMeanwhile, GatewayDeclined, OutcomeUnknown
from payments.models import OperationState, Payment, PaymentOperation, Status

from .helpers import SYSTEM, card_order, sent_message

pytestmark = pytest.mark.usefixtures("english")  # match the messages' English wording


def test_the_one_open_claim_constraint_is_changed_meanwhile(shop, sandbox):
    order = card_order(shop, sandbox)
    Claim.objects.create(shop=shop, order=order, kind=ClaimKind.CANCEL, requested_by=Party.CUSTOMER,
                         reason=Reason.CUSTOMER_REQUEST, state=ClaimState.REQUESTED)
    # The race: our check saw no open claim, the other operator's insert wins at the database.
    with mock.patch("claims.services._open_claim", return_value=None), pytest.raises(ChangedMeanwhile):
        claims.customer_cancel(order, by=claims.customer_actor(order))
    assert order.claims.count() == 1


def test_a_second_operator_after_the_first_cancel_is_refused(shop, sandbox):
    order = card_order(shop, sandbox)
    sent_message(order)
    claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM)
    with pytest.raises(Exception, match="already cancelled"):
        claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM)
    assert order.claims.count() == 1


def test_a_declined_refund_changes_nothing(shop, sandbox):
    order = card_order(shop, sandbox)
    sent_message(order)
    with mock.patch("claims.money.payment_services.cancel_payment", side_effect=GatewayDeclined("E01")):
        with pytest.raises(GatewayDeclined):
            claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM)
    assert not Claim.objects.exists()
    assert Payment.objects.get(pk=order.payment_id).status == Status.AUTHORIZED


def test_a_declined_approval_puts_the_request_back(shop, sandbox):
    order = card_order(shop, sandbox, state="preparing")
    request = claims.customer_cancel(order, by=claims.customer_actor(order))
    with mock.patch("claims.money.payment_services.cancel_payment", side_effect=GatewayDeclined("E01")):
        with pytest.raises(GatewayDeclined):
            claims.approve_cancel_request(request, by=SYSTEM)
    request.refresh_from_db()
    assert request.state == ClaimState.REQUESTED


def test_a_lost_answer_keeps_the_claim_pending_and_the_sync_finishes_it(shop, sandbox):
    order = card_order(shop, sandbox)
    sent_message(order)
    op = PaymentOperation.objects.create(payment=order.payment, kind="cancel", idempotency_key="lost-1",
                                         gateway_job="VOID", amount=order.payment.amount,
                                         previous_amount=order.payment.amount, explanation="VOID",
                                         status_before=Status.AUTHORIZED, actor_label="t", state=OperationState.UNKNOWN)
    with mock.patch("claims.money.payment_services.cancel_payment", side_effect=OutcomeUnknown(operation=op)):
        with pytest.raises(OutcomeUnknown):
            claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM)
    claim = Claim.objects.get()
    assert claim.state == ClaimState.IN_PROGRESS and claim.refund_state == RefundState.PENDING
    assert claim.refund_operation == op

    # The status sync settles the operation; the payment_changed receiver finishes the claim.
    PaymentOperation.objects.filter(pk=op.pk).update(state=OperationState.SUCCEEDED, context={"claim": claim.pk})
    op.refresh_from_db()
    from claims.receivers import finish_claim_refund

    finish_claim_refund(sender=Payment, payment=order.payment, operation=op)
    claim.refresh_from_db()
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.DONE


def test_idempotency_key_replays_the_claim(shop, sandbox):
    order = card_order(shop, sandbox)
    sent_message(order)
    first = claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM,
                                 idempotency_key="cancel-1")
    again = claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM,
                                 idempotency_key="cancel-1")
    assert again.pk == first.pk and len(sandbox.calls("AlterTran")) == 1
