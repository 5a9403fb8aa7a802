"""Races and lost answers a review found in the wallet paths; each test failed before its fix."""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings

from orders import shipping
from orders.cancellation import cancel_order
from orders.method_change import change_payment_method
from orders.models import Fulfilment, Order
from payments import ledger, services
from payments import sync as sync_module
from payments.actors import Actor
from payments.errors import InvalidTransition, OutcomeUnknown, PaymentBusy
from payments.gateway_factory import gateway_for
from payments.models import Method, OperationKind, Payment, PaymentOperation, Status
from payments.specs import spec_for
from tests.factories import cart_orders, wallet_order

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_no_shipping_while_a_cancel_is_at_the_pg(shop, sandbox):
    order = wallet_order(shop, sandbox, amount=5000)
    payment = order.payment
    services.capture_payment(payment, by=SYSTEM)
    payment.refresh_from_db()
    spec = spec_for(payment, OperationKind.CANCEL)
    ledger.begin(payment, spec, SYSTEM, None)  # the cancel is pending: its gateway call is about to happen
    with pytest.raises(PaymentBusy):
        shipping.mark_shipped(Order.objects.get(pk=order.pk), carrier="ヤマト", slip_number="123456", by=SYSTEM)
    assert not order.shipments.filter(shipped_at__isnull=False).exists()


def test_a_status_answer_read_before_a_cancel_never_undoes_it(shop, sandbox):
    order = wallet_order(shop, sandbox, amount=5000)
    payment = order.payment
    services.capture_payment(payment, by=SYSTEM)
    payment.refresh_from_db()
    check = PaymentOperation.objects.create(payment=payment, kind=OperationKind.SYNC, gateway_job="SearchTrade",
                                            idempotency_key=f"sync:{uuid.uuid4()}", status_before=payment.status,
                                            actor_label="test")
    seen = payment.version
    stale = gateway_for(payment).search(payment.gateway_order_id)  # SALES
    services.cancel_payment(Payment.objects.get(pk=payment.pk), by=SYSTEM)  # the PG refunds meanwhile
    result = sync_module._apply_trade(payment, check, stale, seen_version=seen)
    assert result.in_flight and not result.changed
    assert Payment.objects.get(pk=payment.pk).status == Status.CANCELLED
    check.refresh_from_db()  # the unapplied check never reads as the cancel's transition
    assert check.status_before == check.status_after == Status.CANCELLED
    services.sync_payment(Payment.objects.get(pk=payment.pk), actor=SYSTEM)  # a fresh answer agrees
    assert Payment.objects.get(pk=payment.pk).status == Status.CANCELLED


def test_a_cart_cancel_whose_answer_was_lost_still_cancels_its_order(shop, sandbox,
                                                                      django_capture_on_commit_callbacks):
    first = wallet_order(shop, sandbox, amount=6000)
    Order.objects.filter(pk=first.pk).update(total=3000, fulfilment_status=Fulfilment.NEW)
    b, c = cart_orders(first.payment, 1000, 2000)
    payment = first.payment
    sandbox.set_faults(rules=[{"api": "RecruitChange", "action": "drop_response", "times": 1}])
    with pytest.raises(OutcomeUnknown):
        cancel_order(Order.objects.get(pk=first.pk), by=SYSTEM)
    sandbox.clear_faults()
    with django_capture_on_commit_callbacks(execute=True):
        services.sync_payment(Payment.objects.get(pk=payment.pk), actor=SYSTEM)
    payment.refresh_from_db()
    assert payment.amount == 3000 and sandbox.wallet_transaction(payment.gateway_order_id)["amount"] == 3000
    assert Order.objects.get(pk=first.pk).fulfilment_status == Fulfilment.CANCELLED
    cancel_order(Order.objects.get(pk=b.pk), by=SYSTEM)  # from what the PG holds: 3000 - 1000, never up
    payment.refresh_from_db()
    assert payment.amount == 2000 and sandbox.wallet_transaction(payment.gateway_order_id)["amount"] == 2000


def test_method_change_does_not_charge_cancelled_cart_orders_again(shop, sandbox):
    first = wallet_order(shop, sandbox, amount=5000)
    Order.objects.filter(pk=first.pk).update(total=3000, fulfilment_status=Fulfilment.NEW)
    (b,) = cart_orders(first.payment, 2000)
    cancel_order(Order.objects.get(pk=b.pk), by=SYSTEM)
    Order.objects.filter(pk=b.pk).update(fulfilment_status=Fulfilment.CANCELLED)  # as the receiver does
    sandbox.advance_clock(timedelta(days=settings.WALLET_AUTH_VALIDITY_DAYS, hours=1).total_seconds())
    services.sync_payment(Payment.objects.get(pk=first.payment_id), actor=SYSTEM)
    assert Payment.objects.get(pk=first.payment_id).status == Status.AUTH_EXPIRED
    new = change_payment_method(Order.objects.get(pk=first.pk), method=Method.CARD, by=SYSTEM)
    b.refresh_from_db()
    assert new.amount == 3000 and b.payment_id != new.pk and b.fulfilment_status == Fulfilment.CANCELLED


def test_no_method_change_while_the_pg_still_holds_a_capture(shop, sandbox):
    import time_machine
    from django.utils import timezone

    from refunds.models import RefundTask

    order = wallet_order(shop, sandbox, amount=5000)
    payment = order.payment
    services.capture_payment(payment, by=SYSTEM)
    later = timezone.now() + timedelta(days=70)  # past the PG's cancel period (end of the following month)
    sandbox.set_clock(at=later)
    with time_machine.travel(later, tick=False):
        services.cancel_payment(Payment.objects.get(pk=payment.pk), by=SYSTEM)  # a manual refund task
        assert RefundTask.objects.filter(payment=payment).count() == 1
        payment.refresh_from_db()
        assert payment.status == Status.CANCELLED
        with pytest.raises(InvalidTransition, match="PG"):
            change_payment_method(Order.objects.get(pk=order.pk), method=Method.CARD, by=SYSTEM)
    assert Payment.objects.get(pk=payment.pk).replaced_by_id is None


def test_editing_a_cart_order_does_not_bring_back_an_order_cancelled_alone(shop, sandbox):
    from orders.editing import LineChange, edit_order

    first = wallet_order(shop, sandbox, amount=5000)
    line = first.lines.get()
    Order.objects.filter(pk=first.pk).update(total=3000, fulfilment_status=Fulfilment.NEW)
    line.unit_price = 3000
    line.save()
    (b,) = cart_orders(first.payment, 2000)
    cancel_order(Order.objects.get(pk=b.pk), by=SYSTEM)
    Order.objects.filter(pk=b.pk).update(fulfilment_status=Fulfilment.CANCELLED)  # as the receiver does
    payment = Payment.objects.get(pk=first.payment_id)
    assert payment.amount == 3000
    edit_order(Order.objects.get(pk=first.pk), lines=[LineChange(line.pk, 1, 2500)], shipping_fee=0, fees=0,
               by=SYSTEM)
    payment.refresh_from_db()
    assert payment.pending_amount == 2500  # not 4500: B's part stays refunded
