"""Placing an order: by card (authorized at once), by Recruit easy pay (the buyer then checks out), by konbini
(numbers issued at once) or by bank transfer (awaiting the transfer)."""

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
    _check_lines(lines, total, shipping_fee, fees, points_used)
    order = _create_order(
        shop, lines=lines, total=total, customer_name=customer_name, customer_email=customer_email, number=number,
        by=by, shipping_fee=shipping_fee, fees=fees, points_used=points_used,
        shipping_addresses=(shipping_address,) if shipping_address else (), label="",
        create_payment=payment_services.create_card_payment)
    payment_services.authorize_payment(order.payment, token=token, by=by, idempotency_key=idempotency_key)
    order.refresh_from_db()
    return order


def _create_order(shop: Shop, *, lines, total, customer_name, customer_email, number, by, shipping_fee, fees,
                  points_used, shipping_addresses, label, create_payment, **payment_kwargs) -> Order:
    """The order, its lines, shipments and its (unprocessed) payment, in one transaction."""
    with transaction.atomic():
        order = Order.objects.create(shop=shop, number=number or f"pending-{uuid.uuid4().hex[:24]}",
                                     customer_name=customer_name, customer_email=customer_email, total=total,
                                     shipping_fee=shipping_fee, fees=fees, points_used=points_used)
        order.number = number or order_number_for(shop, order.pk)
        order.payment = create_payment(
            shop, amount=order.amount_to_pay, reference=order.number, payer_name=customer_name,
            payer_email=customer_email, actor=by, **payment_kwargs)
        order.save(update_fields=["number", "payment"])
        Shipment.objects.bulk_create(Shipment(order=order, address=address) for address in shipping_addresses)
        OrderLine.objects.bulk_create(
            OrderLine(order=order, product_name=line.product_name, options=line.options, quantity=line.quantity,
                      unit_price=line.unit_price, tax_rate=line.tax_rate) for line in lines)
        OrderEvent.objects.create(order=order, actor_id=by.user_id, actor_label=by.label,
                                  message=f"注文受付 ¥{total:,}{label}")
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
    return _create_order(
        shop, lines=lines, total=total, customer_name=customer_name, customer_email=customer_email, number=number,
        by=by, shipping_fee=shipping_fee, fees=fees, points_used=points_used, shipping_addresses=shipping_addresses,
        label=" (リクルートかんたん支払い)", create_payment=payment_services.create_wallet_payment, method=method)


def place_konbini_order(shop: Shop, *, lines: list[LineInput], total: int, customer_name: str, customer_email: str,
                        number: str | None = None, by: Actor, shipping_fee: int = 0, fees: int = 0,
                        points_used: int = 0, shipping_addresses: tuple[str, ...] = (), issue_numbers: bool = True,
                        idempotency_key: str | None = None) -> Order:
    """Create the order and its konbini payment; the payment numbers are issued at Stripe at once (default).

    `fees` holds the customer's payment fee (コンビニ決済手数料): a seller-reason claim refunds it.
    """
    _check_lines(lines, total, shipping_fee, fees, points_used)
    order = _create_order(
        shop, lines=lines, total=total, customer_name=customer_name, customer_email=customer_email, number=number,
        by=by, shipping_fee=shipping_fee, fees=fees, points_used=points_used, shipping_addresses=shipping_addresses,
        label=" (コンビニ決済)", create_payment=payment_services.create_konbini_payment)
    if issue_numbers:
        payment_services.issue_konbini_numbers(order.payment, by=by, idempotency_key=idempotency_key)
        order.refresh_from_db()
    return order


def place_bank_transfer_order(shop: Shop, *, lines: list[LineInput], total: int, customer_name: str,
                              customer_kana: str, customer_email: str = "", number: str | None = None, by: Actor,
                              shipping_fee: int = 0, fees: int = 0, points_used: int = 0,
                              shipping_addresses: tuple[str, ...] = ()) -> Order:
    """Create the order and its bank transfer payment (入金待ち until the transfer is booked).

    `customer_kana` is the sender name the bank will print (matched by the statement import).
    """
    from payments.bank_transfer import create_bank_transfer_payment

    _check_lines(lines, total, shipping_fee, fees, points_used)
    return _create_order(
        shop, lines=lines, total=total, customer_name=customer_name, customer_email=customer_email, number=number,
        by=by, shipping_fee=shipping_fee, fees=fees, points_used=points_used, shipping_addresses=shipping_addresses,
        label=" (銀行振込)", create_payment=create_bank_transfer_payment, payer_kana=customer_kana)
