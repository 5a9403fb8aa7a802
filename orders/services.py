"""Placing an order paid by card."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from orders.models import Order, OrderEvent, OrderLine, Shipment
from payments import services as payment_services
from payments.actors import Actor
from payments.errors import InvalidAmount
from payments.operations import validate_token
from shops.models import Shop


@dataclass(frozen=True)
class LineInput:
    product_name: str
    quantity: int
    unit_price: int
    tax_rate: int = 10
    options: str = ""


def order_number_for(shop: Shop, order_id: int) -> str:
    # From the order's own primary key: unique without a "last number + 1" race between requests.
    return f"{shop.code.upper()}-{order_id:06d}"


def place_card_order(shop: Shop, *, lines: list[LineInput], total: int, customer_name: str,
                     customer_email: str = "", token: str, number: str | None = None, by: Actor,
                     idempotency_key: str | None = None, shipping_fee: int = 0, fees: int = 0,
                     points_used: int = 0, shipping_address: str = "") -> Order:
    """Create the order and its card payment, then authorize (or capture, per shop setting).

    Raises the payment errors of the authorization; the order then stays as "not placed".
    """
    validate_token(token)  # before anything is written
    if not lines:
        raise InvalidAmount(_("An order needs at least one line."))
    computed = sum(line.quantity * line.unit_price for line in lines) + shipping_fee + fees
    if computed != total:
        raise InvalidAmount(_("The total ¥%(total)s does not match the lines, shipping and fees (¥%(computed)s).")
                            % {"total": f"{total:,}", "computed": f"{computed:,}"})
    if points_used >= total:
        # A points-only order has nothing to charge to a card.
        raise InvalidAmount(_("Points cover the whole order; there is nothing to pay by card."))
    with transaction.atomic():
        order = Order.objects.create(shop=shop, number=number or f"pending-{uuid.uuid4().hex[:24]}",
                                     customer_name=customer_name, customer_email=customer_email, total=total,
                                     shipping_fee=shipping_fee, fees=fees, points_used=points_used)
        order.number = number or order_number_for(shop, order.pk)
        order.payment = payment_services.create_card_payment(
            shop, amount=total - points_used, reference=order.number, payer_name=customer_name,
            payer_email=customer_email, actor=by)
        order.save(update_fields=["number", "payment"])
        payment = order.payment
        if shipping_address:
            Shipment.objects.create(order=order, address=shipping_address)
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product_name=line.product_name, options=line.options, quantity=line.quantity,
                      unit_price=line.unit_price, tax_rate=line.tax_rate) for line in lines)
        OrderEvent.objects.create(order=order, actor_id=by.user_id, actor_label=by.label,
                                  message=f"注文受付 ¥{total:,}")
    payment_services.authorize_payment(payment, token=token, by=by, idempotency_key=idempotency_key)
    order.refresh_from_db()
    return order


def _check_lines(lines: list[LineInput], total: int, shipping_fee: int, fees: int, points_used: int) -> None:
    if not lines:
        raise InvalidAmount(_("An order needs at least one line."))
    computed = sum(line.quantity * line.unit_price for line in lines) + shipping_fee + fees
    if computed != total:
        raise InvalidAmount(_("The total ¥%(total)s does not match the lines, shipping and fees (¥%(computed)s).")
                            % {"total": f"{total:,}", "computed": f"{computed:,}"})
    if points_used >= total:
        raise InvalidAmount(_("Points cover the whole order; there is nothing to pay."))


def place_wallet_order(shop: Shop, *, lines: list[LineInput], total: int, customer_name: str,
                       customer_email: str = "", number: str | None = None, by: Actor, shipping_fee: int = 0,
                       fees: int = 0, points_used: int = 0, shipping_addresses: tuple[str, ...] = (),
                       method: str = "recruit") -> Order:
    """Create the order and its wallet payment; the buyer then starts the checkout (checkout page)."""
    _check_lines(lines, total, shipping_fee, fees, points_used)
    with transaction.atomic():
        order = Order.objects.create(shop=shop, number=number or f"pending-{uuid.uuid4().hex[:24]}",
                                     customer_name=customer_name, customer_email=customer_email, total=total,
                                     shipping_fee=shipping_fee, fees=fees, points_used=points_used)
        order.number = number or order_number_for(shop, order.pk)
        order.payment = payment_services.create_wallet_payment(
            shop, amount=total - points_used, method=method, reference=order.number, payer_name=customer_name,
            payer_email=customer_email, actor=by)
        order.save(update_fields=["number", "payment"])
        Shipment.objects.bulk_create(Shipment(order=order, address=address) for address in shipping_addresses)
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product_name=line.product_name, options=line.options, quantity=line.quantity,
                      unit_price=line.unit_price, tax_rate=line.tax_rate) for line in lines)
        OrderEvent.objects.create(order=order, actor_id=by.user_id, actor_label=by.label,
                                  message=f"注文受付 ¥{total:,} (リクルートかんたん支払い)")
    return order
