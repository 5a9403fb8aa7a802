"""Cancelling a bank transfer (SPEC 3.4, 4.3): never linked. Before the transfer nothing is due back; after it
the organizer refunds by hand, through a manual refund task for what was received."""

import pytest

from payments import services
from payments.actors import Actor
from payments.bank_transfer import NOTHING_PAID
from payments.errors import InvalidTransition, NotPermitted
from payments.models import OperationKind, OperationState, Payment, Status
from payments.operations import MANUAL_REFUND
from refunds.models import RefundTask, RefundTaskStatus
from refunds.services import open_refund_task
from tests.bank.helpers import SYSTEM, bank_payment

pytestmark = pytest.mark.django_db


def paid(shop, amount=5000):
    payment = bank_payment(shop, amount=amount)
    services.mark_transfer_received(payment, by=SYSTEM)
    return payment


def test_cancel_before_the_transfer_has_no_money_effect(shop, operator, english):
    payment = bank_payment(shop, amount=5000)
    plan = services.preview(payment, OperationKind.CANCEL)
    assert plan.job == NOTHING_PAID and plan.amount == 0 and "Nothing was paid" in plan.explanation
    op = services.cancel_payment(payment, by=Actor.for_user(operator), reason="参加者都合")
    payment.refresh_from_db()
    assert payment.status == Status.CANCELLED and payment.cancelled_at is not None
    assert (payment.captured_amount, payment.refunded_amount) == (0, 0)
    assert op.state == OperationState.SUCCEEDED and op.gateway_job == NOTHING_PAID and op.amount == 0
    assert "参加者都合" in op.explanation
    assert not RefundTask.objects.exists()


def test_cancel_after_the_transfer_opens_a_manual_refund_task(shop, operator, english):
    payment = paid(shop, amount=8000)
    plan = services.preview(payment, OperationKind.CANCEL)
    assert plan.job == MANUAL_REFUND and plan.amount == 8000
    assert "refunds ¥8,000 by hand" in plan.explanation and "manual refund task" in plan.explanation
    op = services.cancel_payment(payment, by=Actor.for_user(operator))
    payment.refresh_from_db()
    assert payment.status == Status.CANCELLED
    assert (payment.captured_amount, payment.refunded_amount) == (0, 8000)
    assert op.gateway_job == MANUAL_REFUND and op.amount == 8000
    task = RefundTask.objects.get(payment=payment)
    assert task.amount == 8000 and task.status == RefundTaskStatus.OPEN
    assert task.payee == "山田 太郎" and task.method == "bank_transfer"
    assert task.created_by_label == operator.username


def test_a_later_cancel_refunds_only_what_was_not_refunded_by_hand_yet(shop, operator):
    payment = paid(shop, amount=8000)
    open_refund_task(payment, amount=3000, reason="option line cancelled", actor_label="test")
    services.cancel_payment(payment, by=Actor.for_user(operator))
    assert sorted(RefundTask.objects.filter(payment=payment).values_list("amount", flat=True)) == [3000, 5000]


def test_cancelled_cannot_be_cancelled_again(shop, operator):
    payment = bank_payment(shop)
    services.cancel_payment(payment, by=Actor.for_user(operator))
    with pytest.raises(InvalidTransition):
        services.cancel_payment(Payment.objects.get(pk=payment.pk), by=Actor.for_user(operator))
    assert payment.operations.filter(kind=OperationKind.CANCEL).count() == 1


def test_cancel_needs_the_cancel_permission(shop, staff):
    payment = paid(shop)
    with pytest.raises(NotPermitted):
        services.cancel_payment(payment, by=Actor.for_user(staff))  # staff may mark paid, not cancel
    assert Payment.objects.get(pk=payment.pk).status == Status.PAID
    assert not RefundTask.objects.exists()
