"""The money outcome of a claim per payment method (SPEC 4.4): card linked, Recruit linked inside its window or a
manual refund task outside it, konbini / bank transfer a manual refund task with the transfer fee refunded on
a seller-fault reason and kept back on the customer's reason."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from claims import services as claims
from claims.models import ClaimState, Reason, RefundState
from orders.models import Delivery, Fulfilment
from payments.models import Payment, Status
from refunds.models import RefundTask

from .helpers import PRICE, SYSTEM, TRANSFER_FEE, bank_order, card_order, konbini_order, sent_message, wallet_order

pytestmark = pytest.mark.usefixtures("english")  # match the messages' English wording


def seller_cancel(order, reason=Reason.OUT_OF_STOCK):
    sent_message(order)
    return claims.seller_cancel(order, reason=reason, seller_memo="在庫切れのためキャンセルします", by=SYSTEM)


def test_card_cancel_is_voided_at_gmo(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    effect = claims.cancel_effect(order, reason=Reason.OUT_OF_STOCK)
    assert effect.linked and effect.amount == PRICE and effect.fee_refund == 0

    claim = seller_cancel(order)

    assert claim.state == ClaimState.DONE and claim.completed_at
    assert claim.refund_state == RefundState.DONE and claim.refund_linked and claim.refund_amount == PRICE
    assert claim.refund_task is None and claim.refund_operation.gateway_job == "VOID"
    assert sandbox.calls("AlterTran")[-1]["params"]["JobCd"] == "VOID"
    assert Payment.objects.get(pk=order.payment_id).status == Status.VOIDED
    assert not RefundTask.objects.exists()


def test_recruit_authorized_is_cancelled_at_the_pg(shop, sandbox):
    order = wallet_order(shop, sandbox, state=Delivery.DELAYED)
    claim = seller_cancel(order, Reason.DELIVERY_DELAY)
    assert claim.state == ClaimState.DONE and claim.refund_linked and claim.refund_state == RefundState.DONE
    assert Payment.objects.get(pk=order.payment_id).status == Status.CANCELLED
    assert not RefundTask.objects.exists()


def test_recruit_captured_inside_its_window_is_refunded_by_the_pg(shop, sandbox):
    order = wallet_order(shop, sandbox, captured=True)
    assert claims.cancel_effect(order, reason=Reason.OUT_OF_STOCK).linked
    claim = seller_cancel(order)
    assert claim.refund_linked and claim.refund_amount == PRICE and claim.refund_task is None


def test_recruit_captured_outside_its_window_opens_a_manual_refund_task(shop, sandbox):
    order = wallet_order(shop, sandbox, captured=True)
    Payment.objects.filter(pk=order.payment_id).update(captured_at=timezone.now() - timedelta(days=120))
    effect = claims.cancel_effect(order, reason=Reason.OUT_OF_STOCK)
    assert not effect.linked and effect.amount == PRICE

    claim = seller_cancel(order)

    assert claim.state == ClaimState.DONE and not claim.refund_linked
    assert claim.refund_state == RefundState.PENDING and claim.refund_task.amount == PRICE


@pytest.mark.parametrize("maker", ["konbini", "bank"])
def test_seller_fault_cancel_refunds_the_transfer_fee_by_hand(maker, konbini_shop, sandbox):
    order = (konbini_order(konbini_shop, sandbox) if maker == "konbini" else bank_order(konbini_shop))
    effect = claims.cancel_effect(order, reason=Reason.UNDELIVERABLE_REGION)
    assert not effect.linked and effect.amount == PRICE + TRANSFER_FEE and effect.fee_refund == TRANSFER_FEE
    assert "refunded too" in effect.text

    claim = seller_cancel(order, Reason.UNDELIVERABLE_REGION)

    assert claim.state == ClaimState.DONE and not claim.refund_linked
    assert claim.refund_amount == PRICE + TRANSFER_FEE and claim.fee_refund_amount == TRANSFER_FEE
    assert claim.refund_task.amount == PRICE + TRANSFER_FEE and claim.refund_state == RefundState.PENDING
    order.refresh_from_db()
    assert order.fulfilment_status == Fulfilment.CANCELLED or order.payment.status == Status.CANCELLED


@pytest.mark.parametrize("maker", ["konbini", "bank"])
def test_customer_cancel_keeps_the_transfer_fee_back(maker, konbini_shop, sandbox):
    order = (konbini_order(konbini_shop, sandbox) if maker == "konbini" else bank_order(konbini_shop))
    effect = claims.cancel_effect(order, reason=Reason.CUSTOMER_REQUEST, requested_by="customer")
    assert effect.amount == PRICE and effect.fee_refund == 0 and "kept back" in effect.text

    claim = claims.customer_cancel(order, by=claims.customer_actor(order))

    assert claim.state == ClaimState.DONE and claim.requested_by == "customer"
    assert claim.refund_amount == PRICE and claim.fee_refund_amount == 0
    assert claim.refund_task.amount == PRICE
    assert Payment.objects.get(pk=order.payment_id).status == Status.CANCELLED


def test_customer_cancel_of_a_card_order_is_voided(shop, sandbox):
    order = card_order(shop, sandbox)
    claim = claims.customer_cancel(order, by=claims.customer_actor(order), note="間違えて注文しました")
    assert claim.state == ClaimState.DONE and claim.refund_linked and claim.refund_state == RefundState.DONE
    assert sandbox.calls("AlterTran")[-1]["params"]["JobCd"] == "VOID"


def test_unpaid_konbini_cancel_moves_no_money(konbini_shop, sandbox):
    order = konbini_order(konbini_shop, sandbox, state=Delivery.AWAITING_PAYMENT)
    claim = claims.customer_cancel(order, by=claims.customer_actor(order))
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.NONE and claim.refund_amount == 0
    assert not RefundTask.objects.exists()
    assert Payment.objects.get(pk=order.payment_id).status == Status.CANCELLED


def test_unpaid_bank_order_cancel_moves_no_money(shop):
    order = bank_order(shop, state=Delivery.AWAITING_PAYMENT)
    claim = claims.customer_cancel(order, by=claims.customer_actor(order))
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.NONE
    assert not RefundTask.objects.exists()
