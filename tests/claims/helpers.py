"""Orders for claim tests: one per payment method, brought to any delivery state through the real services.

    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    order = wallet_order(shop, sandbox, state=Delivery.NEW, captured=True)
    order = konbini_order(konbini_shop, sandbox, state=Delivery.NEW)     # paid at the store (synced from Stripe)
    order = bank_order(shop, state=Delivery.NEW, fees=440)                  # transfer booked
    sent_message(order)                                                      # the message a seller cancel needs

Every helper runs the on-commit callbacks (payment_changed receivers move the delivery state), so it works
under the plain `db` fixture. `ORDER_MAKERS` maps method name → maker for parametrized tests.
"""

from __future__ import annotations

import datetime as dt

from django.test import TestCase
from django.utils import timezone

from claims import services as claims
from claims.models import MessageCategory
from orders import shipping
from orders.models import Delivery, Order
from orders.services import (
    LineInput,
    place_bank_transfer_order,
    place_card_order,
    place_konbini_order,
    place_wallet_order,
)
from payments import services as payment_services
from payments.actors import Actor
from payments.bank_transfer import mark_transfer_received
from payments.konbini_sync import sync_konbini
from tests.factories import RET_URL, VISA_OK

SYSTEM = Actor.system("test")
EMAIL = "hanako@example.com"
PRICE = 5000
TRANSFER_FEE = 330


def _on_commit():
    # payment_changed runs on commit: the delivery state follows the payment only once it has run.
    return TestCase.captureOnCommitCallbacks(execute=True)


def _lines(price: int) -> list[LineInput]:
    return [LineInput("テスト商品", 1, price)]


def to_state(order: Order, state: str) -> Order:
    """Bring a paid (新規注文) order to `state` the way staff would: ship date, delay, shipping, delivery."""
    order.refresh_from_db()
    if state == Delivery.AWAITING_PAYMENT:
        assert order.delivery_status == Delivery.AWAITING_PAYMENT, order.delivery_status
        return order
    assert order.delivery_status == Delivery.NEW, order.delivery_status
    if state == Delivery.PREPARING:
        claims.set_ship_date(order, timezone.localdate() + dt.timedelta(days=2), by=SYSTEM)
    elif state == Delivery.DELAYED:
        claims.mark_delayed(order, by=SYSTEM)
    elif state in (Delivery.SHIPPING, Delivery.DELIVERED):
        shipping.mark_shipped(order, carrier="ヤマト運輸", slip_number="1234-5678-9012", by=SYSTEM)
        if state == Delivery.DELIVERED:
            shipping.mark_delivered(order, by=SYSTEM)
    order.refresh_from_db()
    assert order.delivery_status == state, (order.delivery_status, state)
    return order


def card_order(shop, sandbox, *, state: str = Delivery.NEW, price: int = PRICE, email: str = EMAIL,
               number: str | None = None) -> Order:
    """A card order authorized at the GMO sandbox (or captured, per the shop's setting)."""
    with _on_commit():
        order = place_card_order(shop, lines=_lines(price), total=price, customer_name="山田 花子",
                                 customer_email=email, token=sandbox.create_token(VISA_OK), by=SYSTEM,
                                 number=number, shipping_address="東京都千代田区1-1")
    return to_state(order, state)


def wallet_order(shop, sandbox, *, state: str = Delivery.NEW, price: int = PRICE, captured: bool = False,
                 email: str = EMAIL) -> Order:
    """A Recruit easy pay order the buyer approved at the sandbox wallet; `captured` → 決済完了."""
    with _on_commit():
        order = place_wallet_order(shop, lines=_lines(price), total=price, customer_name="山田 花子",
                                   customer_email=email, by=SYSTEM, shipping_addresses=("東京都千代田区1-1",))
        payment = order.payment
        payment_services.start_wallet_checkout(payment, ret_url=RET_URL, by=SYSTEM)
        sandbox.wallet_approve(payment.access_id)
        payment_services.sync_payment(payment, actor=SYSTEM)
        payment.refresh_from_db()
        if captured and payment.status != "captured":
            payment_services.capture_payment(payment, by=SYSTEM)
    return to_state(order, state)


def konbini_order(shop, sandbox, *, state: str = Delivery.NEW, price: int = PRICE, fees: int = TRANSFER_FEE,
                  email: str = EMAIL) -> Order:
    """A konbini order (shop with a Stripe key: tests/claims/conftest.py `konbini_shop`); paid at the store
    unless `state` is 入金待ち (numbers issued, not paid)."""
    with _on_commit():
        order = place_konbini_order(shop, lines=_lines(price), total=price + fees, fees=fees,
                                    customer_name="山田 花子", customer_email=email, by=SYSTEM,
                                    shipping_addresses=("東京都千代田区1-1",))
        if state != Delivery.AWAITING_PAYMENT:
            sandbox.stripe_pay(order.payment.external_id)
            sync_konbini(order.payment, actor=SYSTEM)
    return to_state(order, state)


def bank_order(shop, *, state: str = Delivery.NEW, price: int = PRICE, fees: int = TRANSFER_FEE,
               email: str = EMAIL) -> Order:
    """A bank transfer order; the transfer is booked unless `state` is 入金待ち."""
    with _on_commit():
        order = place_bank_transfer_order(shop, lines=_lines(price), total=price + fees, fees=fees,
                                          customer_name="山田 花子", customer_kana="ヤマダ ハナコ",
                                          customer_email=email, by=SYSTEM, shipping_addresses=("東京都千代田区1-1",))
        if state != Delivery.AWAITING_PAYMENT:
            mark_transfer_received(order.payment, by=SYSTEM)
    return to_state(order, state)


def sent_message(order: Order, *, by: Actor = SYSTEM, title: str = "キャンセルのお知らせ"):
    """The cancel/refund message a seller-side cancel needs (sent through the test mail backend)."""
    return claims.message_customer(order, category=MessageCategory.CANCEL_REFUND, title=title,
                                   body="申し訳ございません。在庫切れのためキャンセルいたします。", by=by)


def order_maker(method: str):
    """(shop, sandbox, state) → order, for tests parametrized over the method."""
    return {
        "card": lambda shop, sandbox, state, **kw: card_order(shop, sandbox, state=state, **kw),
        "recruit": lambda shop, sandbox, state, **kw: wallet_order(shop, sandbox, state=state, **kw),
        "konbini": lambda shop, sandbox, state, **kw: konbini_order(shop, sandbox, state=state, **kw),
        "bank": lambda shop, sandbox, state, **kw: bank_order(shop, state=state, **kw),
    }[method]


ORDER_MAKERS = {method: order_maker(method) for method in ("card", "recruit", "konbini", "bank")}
