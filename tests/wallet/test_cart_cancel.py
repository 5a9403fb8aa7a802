"""A cart: two orders share one payment; cancelling one refunds only its part (SPEC 4.1)."""

import pytest
from django.urls import reverse

from orders.cancellation import cancel_order
from orders.models import Fulfilment, Order
from payments import services
from payments.actors import Actor
from payments.models import Status
from shops.roles import Role
from tests.factories import card_payment, cart_orders, member, wallet_order

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_wallet_cart_cancel_one_order_then_the_last(shop, sandbox, client):
    first = wallet_order(shop, sandbox, amount=5000)
    payment = first.payment
    Order.objects.filter(pk=first.pk).update(total=3000)
    (second,) = cart_orders(payment, 2000)
    services.capture_payment(payment, by=SYSTEM)
    # After the capture day the wallet accepts a decrease (SPEC 3.2 window): move both clocks a day on.
    import time_machine
    from django.utils import timezone

    later = timezone.now() + timezone.timedelta(days=1, hours=2)
    sandbox.set_clock(at=later)
    with time_machine.travel(later, tick=False):
        client.force_login(member(shop, Role.OPERATOR))
        url = reverse("admin:orders_order_cancel_order", args=[second.pk])
        page = client.get(url).content.decode()
        assert "¥5,000" in page and "¥3,000" in page
        payment.refresh_from_db()
        client.post(url, {"confirmed": "1", "version": payment.version})
        payment.refresh_from_db()
        second.refresh_from_db()
        assert (payment.status, payment.amount, payment.refunded_amount) == (Status.CAPTURED, 3000, 2000)
        assert second.fulfilment_status == Fulfilment.CANCELLED
        assert sandbox.wallet_transaction(payment.gateway_order_id)["amount"] == 3000
        cancel_order(Order.objects.get(pk=first.pk), by=SYSTEM)  # the last live order: the whole payment
        payment.refresh_from_db()
        assert payment.status == Status.CANCELLED and len(sandbox.calls("RecruitCancel")) == 1


def test_card_cart_cancel_one_order(shop, sandbox):
    payment = card_payment(shop, sandbox, amount=4000)
    first, second = cart_orders(payment, 2500, 1500)
    cancel_order(second, by=SYSTEM)
    payment.refresh_from_db()
    assert (payment.status, payment.amount) == (Status.AUTHORIZED, 2500)
    assert sandbox.calls("ChangeTran")[-1]["params"]["Amount"] == "2500"
