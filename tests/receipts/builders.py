"""Rows for receipt tests: registrations and orders with a payment in a given status, built directly.

The payment's FSM field is protected, so the status is set with a queryset update (as if the gateway had
moved it); the services that move money are tested elsewhere.
"""

from __future__ import annotations

import itertools

from django.utils import timezone

from orders.models import Fulfilment, Order, OrderLine
from payments.models import LIVE_CAPTURED, Method, Payment, Status
from registrations.models import Event, LineStatus, Menu, MenuKind, Registration, RegistrationLine

REGISTRATION_NUMBER = "T1234567890123"
_numbers = itertools.count(1)

CAPTURED_STATES = (*LIVE_CAPTURED, Status.PAID)


def invoicing(shop, number: str = REGISTRATION_NUMBER, issuer: str = "株式会社デモイベント"):
    shop.receipt_registration_number = number
    shop.receipt_issuer_name = issuer
    shop.save(update_fields=["receipt_registration_number", "receipt_issuer_name"])
    return shop


def payment(shop, amount: int, *, method: str = Method.CARD, status: str = Status.CAPTURED) -> Payment:
    created = Payment.objects.create(shop=shop, method=method, amount=amount,
                                     gateway_order_id=f"rcpt{next(_numbers):010d}")
    paid = status in CAPTURED_STATES
    Payment.objects.filter(pk=created.pk).update(
        status=status, captured_amount=amount if paid else 0, captured_at=timezone.now() if paid else None)
    return Payment.objects.get(pk=created.pk)


# (kind, name, price, tax rate, line status)
DEFAULT_LINES = (
    (MenuKind.BASE, "一般参加", 5000, 10, LineStatus.ACTIVE),
    (MenuKind.OPTION, "懇親会", 3000, 10, LineStatus.ACTIVE),
    (MenuKind.OPTION, "お弁当", 1080, 8, LineStatus.ACTIVE),
)


def registration(shop, *, lines=DEFAULT_LINES, method: str = Method.CARD, status: str = Status.CAPTURED,
                 with_payment: bool = True, number: str | None = None) -> Registration:
    event = Event.objects.create(shop=shop, title="秋の技術カンファレンス")
    amount = sum(price for _, _, price, _, _ in lines)
    reg = Registration.objects.create(
        shop=shop, event=event, number=number or f"REG-{next(_numbers):05d}", participant_name="佐藤 太郎",
        payment=payment(shop, amount, method=method, status=status) if with_payment else None)
    for kind, name, price, rate, line_status in lines:
        menu = Menu.objects.create(event=event, kind=kind, name=name, price=price, tax_rate=rate)
        RegistrationLine.objects.create(registration=reg, menu=menu, kind=kind, name=name, price=price,
                                        tax_rate=rate, status=line_status)
    return reg


def order(shop, *, lines=(("有田焼 マグカップ", 2, 2200, 10), ("抹茶 100g", 1, 3240, 8)), shipping_fee: int = 600,
          fees: int = 0, points_used: int = 0, status: str = Status.CAPTURED,
          fulfilment: str = Fulfilment.PAID) -> Order:
    total = sum(q * p for _, q, p, _ in lines) + shipping_fee + fees
    made = Order.objects.create(
        shop=shop, number=f"ORD-{next(_numbers):06d}", customer_name="山田 花子", total=total,
        shipping_fee=shipping_fee, fees=fees, points_used=points_used, fulfilment_status=fulfilment,
        payment=payment(shop, total - points_used, status=status))
    for name, quantity, price, rate in lines:
        OrderLine.objects.create(order=made, product_name=name, quantity=quantity, unit_price=price, tax_rate=rate)
    return made
