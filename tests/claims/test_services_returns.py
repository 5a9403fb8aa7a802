"""Cancel after shipping (SPEC 4.4): a return (or exchange) claim, then "return received / full refund" with two
confirmations → return complete; an exchange completes without a refund."""

from __future__ import annotations

import pytest

from claims import services as claims
from claims.models import ClaimKind, ClaimState, Reason, RefundState
from orders.models import Delivery
from payments.errors import InvalidTransition, PaymentError
from payments.models import Payment, Status

from .helpers import PRICE, SYSTEM, TRANSFER_FEE, bank_order, card_order, sent_message, wallet_order

pytestmark = pytest.mark.usefixtures("english")  # match the messages' English wording


def opened(order, kind=ClaimKind.RETURN, reason=Reason.DEFECT):
    sent_message(order)
    claim = claims.open_return(order, kind=kind, reason=reason, seller_memo="返品をお受けします", by=SYSTEM,
                               internal_memo="箱潰れ")
    assert claim.state == ClaimState.IN_PROGRESS and claim.kind == kind
    return claim


@pytest.mark.parametrize("state", [Delivery.NEW, Delivery.PREPARING])
def test_a_return_needs_a_shipped_order(shop, sandbox, state):
    order = card_order(shop, sandbox, state=state)
    sent_message(order)
    with pytest.raises(InvalidTransition, match="shipped"):
        claims.open_return(order, kind=ClaimKind.RETURN, reason=Reason.DEFECT, seller_memo="", by=SYSTEM)


def test_a_seller_cancel_of_a_shipped_order_points_to_a_return(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.SHIPPING)
    sent_message(order)
    with pytest.raises(InvalidTransition, match="return"):
        claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM)


def test_the_seller_opening_a_return_needs_a_message(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.DELIVERED)
    with pytest.raises(InvalidTransition, match="Message the customer"):
        claims.open_return(order, kind=ClaimKind.RETURN, reason=Reason.DEFECT, seller_memo="", by=SYSTEM)


def test_customer_only_reasons_are_refused_to_the_seller(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.DELIVERED)
    sent_message(order)
    with pytest.raises(PaymentError, match="not a reason"):
        claims.open_return(order, kind=ClaimKind.RETURN, reason=Reason.ORDER_CANCEL, seller_memo="", by=SYSTEM)
    claim = claims.open_return(order, kind=ClaimKind.RETURN, reason=Reason.ORDER_CANCEL, seller_memo="",
                               by=SYSTEM, requested_by="customer")
    assert claim.state == ClaimState.REQUESTED


def test_full_return_flow_with_both_confirmations_refunds_the_card(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.DELIVERED)
    claim = opened(order)
    for received, approved in ((False, True), (True, False), (False, False)):
        with pytest.raises(PaymentError, match="Confirm both"):
            claims.confirm_return(claim, item_received=received, refund_approved=approved, by=SYSTEM)
    claim.refresh_from_db()
    assert claim.item_received_at is None and claim.state == ClaimState.IN_PROGRESS

    done = claims.confirm_return(claim, item_received=True, refund_approved=True, by=SYSTEM)

    assert done.state == ClaimState.DONE and done.item_received_at and done.refund_approved_at
    assert done.refund_linked and done.refund_amount == PRICE and done.refund_state == RefundState.DONE
    assert Payment.objects.get(pk=order.payment_id).status in (Status.VOIDED, Status.RETURNED)
    with pytest.raises(InvalidTransition):
        claims.confirm_return(done, item_received=True, refund_approved=True, by=SYSTEM)


def test_return_of_a_shipped_recruit_order_is_cancelled_at_the_pg_once_the_goods_are_back(shop, sandbox):
    order = wallet_order(shop, sandbox, captured=True, state=Delivery.SHIPPING)
    claim = opened(order, reason=Reason.WRONG_ITEM)
    done = claims.confirm_return(claim, item_received=True, refund_approved=True, by=SYSTEM)
    assert done.state == ClaimState.DONE and done.refund_linked
    assert order.shipments.filter(returned_at__isnull=False).exists()


def test_return_of_a_bank_order_for_a_defect_refunds_the_fee_by_hand(shop):
    order = bank_order(shop, state=Delivery.DELIVERED)
    claim = opened(order)
    done = claims.confirm_return(claim, item_received=True, refund_approved=True, by=SYSTEM)
    assert done.refund_task.amount == PRICE + TRANSFER_FEE and done.fee_refund_amount == TRANSFER_FEE


def test_customer_reason_return_keeps_the_fee_back(shop):
    order = bank_order(shop, state=Delivery.DELIVERED)
    claim = claims.open_return(order, kind=ClaimKind.RETURN, reason=Reason.OTHER, seller_memo="", by=SYSTEM,
                               requested_by="customer")
    done = claims.confirm_return(claim, item_received=True, refund_approved=True, by=SYSTEM)
    assert done.refund_task.amount == PRICE and done.fee_refund_amount == 0


def test_exchange_completes_without_a_refund(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.DELIVERED)
    claim = opened(order, kind=ClaimKind.EXCHANGE, reason=Reason.WRONG_ITEM)
    sandbox.clear_calls()
    done = claims.confirm_return(claim, item_received=True, refund_approved=True, by=SYSTEM)
    assert done.state == ClaimState.DONE and done.refund_state == RefundState.NONE
    assert not sandbox.calls("AlterTran")
    assert Payment.objects.get(pk=order.payment_id).status == Status.AUTHORIZED
