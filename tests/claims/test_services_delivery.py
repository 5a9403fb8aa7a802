"""Delivery states (SPEC 4.4): 入金待ち → 新規注文 when the payment secures the money, 配送準備 with a ship date,
配送遅延, 配送中 when shipped, 配送完了 when delivered; and the data migration for existing orders."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from claims import services as claims
from orders import shipping
from orders.models import Delivery, Fulfilment, Order, OrderEvent
from payments.actors import Actor
from payments.bank_transfer import mark_transfer_received
from payments.errors import InvalidTransition, NotPermitted, PaymentError
from tests.factories import member

from .helpers import SYSTEM, bank_order, card_order, konbini_order

pytestmark = pytest.mark.usefixtures("english")  # match the messages' English wording


def test_card_authorization_makes_the_order_new(shop, sandbox):
    order = card_order(shop, sandbox)
    assert order.delivery_status == Delivery.NEW
    assert OrderEvent.objects.filter(order=order, message__startswith="配送状態").exists()


def test_bank_order_waits_for_the_transfer(shop, django_capture_on_commit_callbacks):
    order = bank_order(shop, state=Delivery.AWAITING_PAYMENT)
    assert order.delivery_status == Delivery.AWAITING_PAYMENT
    with django_capture_on_commit_callbacks(execute=True):
        mark_transfer_received(order.payment, by=SYSTEM)
    order.refresh_from_db()
    assert order.delivery_status == Delivery.NEW


def test_konbini_paid_at_the_store_makes_the_order_new(konbini_shop, sandbox):
    assert konbini_order(konbini_shop, sandbox, state=Delivery.AWAITING_PAYMENT).delivery_status == \
        Delivery.AWAITING_PAYMENT
    assert konbini_order(konbini_shop, sandbox).delivery_status == Delivery.NEW


def test_ship_date_delay_shipping_delivered(shop, sandbox):
    order = card_order(shop, sandbox)
    day = timezone.localdate() + timedelta(days=3)
    assert claims.set_ship_date(order, day, by=SYSTEM).delivery_status == Delivery.PREPARING
    order.refresh_from_db()
    assert order.ship_date == day
    assert claims.mark_delayed(order, by=SYSTEM).delivery_status == Delivery.DELAYED
    assert claims.set_ship_date(order, day + timedelta(days=1), by=SYSTEM).delivery_status == Delivery.PREPARING
    shipping.mark_shipped(order, carrier="佐川急便", slip_number="111", by=SYSTEM)
    order.refresh_from_db()
    assert order.delivery_status == Delivery.SHIPPING
    with pytest.raises(InvalidTransition):
        claims.mark_delayed(order, by=SYSTEM)
    assert shipping.mark_delivered(order, by=SYSTEM) == 1
    order.refresh_from_db()
    assert order.delivery_status == Delivery.DELIVERED
    with pytest.raises(InvalidTransition):
        shipping.mark_delivered(order, by=SYSTEM)


def test_bad_ship_dates_and_states_are_refused(shop, sandbox):
    order = card_order(shop, sandbox)
    with pytest.raises(PaymentError, match="past"):
        claims.set_ship_date(order, timezone.localdate() - timedelta(days=1), by=SYSTEM)
    with pytest.raises(PaymentError):
        claims.set_ship_date(order, "2030-01-01", by=SYSTEM)
    awaiting = bank_order(shop, state=Delivery.AWAITING_PAYMENT)
    with pytest.raises(InvalidTransition):
        claims.set_ship_date(awaiting, timezone.localdate(), by=SYSTEM)
    order.refresh_from_db()
    assert order.delivery_status == Delivery.NEW and order.ship_date is None


def test_a_viewer_cannot_move_the_delivery_state(shop, sandbox):
    order = card_order(shop, sandbox)
    with pytest.raises(NotPermitted):
        claims.mark_delayed(order, by=Actor.for_user(member(shop, "viewer")))


def test_data_migration_derives_the_delivery_state(shop):
    migration = importlib.import_module("orders.migrations.0007_delivery_status_from_fulfilment")
    expected = {Fulfilment.NEW: Delivery.NEW, Fulfilment.PAID: Delivery.NEW, Fulfilment.SHIPPED: Delivery.SHIPPING,
                Fulfilment.CANCELLED: Delivery.AWAITING_PAYMENT, Fulfilment.NOT_PLACED: Delivery.AWAITING_PAYMENT,
                Fulfilment.PENDING_PAYMENT: Delivery.AWAITING_PAYMENT}
    for n, fulfilment in enumerate(expected):
        Order.objects.create(shop=shop, number=f"OLD-{n}", customer_name="x", total=100,
                             fulfilment_status=fulfilment)
    migration.forwards(apps, None)
    for fulfilment, delivery in expected.items():
        assert Order.objects.get(shop=shop, fulfilment_status=fulfilment).delivery_status == delivery
