"""Shipping an order (slip number, shipped / returned dates) under the payment method's rules."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from orders import delivery
from orders.models import Delivery, Fulfilment, Order, OrderEvent, Shipment
from payments import wallet_rules
from payments.actors import Actor
from payments.errors import InvalidTransition, PaymentBusy
from payments.ledger import lock_payment
from payments.models import LIVE_CAPTURED, Status
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation
from shops.roles import Perm


def _check_shippable(order: Order) -> None:
    payment = order.payment
    if payment is None:
        raise InvalidTransition(_("This order has no payment."))
    if payment.operations.unresolved().exists():
        # A cancel may be at the gateway right now: shipping meanwhile would refund the buyer and send the goods.
        raise PaymentBusy()
    if payment.is_wallet:
        verdict = wallet_rules.availability(WalletOperation.MARK_SHIPPED, facts_for(payment, timezone.now()))
        if not verdict.allowed:
            raise InvalidTransition(verdict.reason)
    elif payment.status not in (Status.AUTHORIZED, *LIVE_CAPTURED, Status.PAID):  # PAID: konbini / bank transfer
        raise InvalidTransition(_("Only an order with a live payment can be shipped."))


def mark_shipped(order: Order, *, carrier: str, slip_number: str, by: Actor, at=None) -> Shipment:
    """Fill the next unshipped shipment (or the order's only one) with the slip number and ship it."""
    by.require(order.shop_id, Perm.CAPTURE)
    at = at or timezone.now()
    with transaction.atomic():
        if order.payment_id:
            lock_payment(order.payment_id)
        locked = Order.objects.select_for_update(of=("self",)).select_related("payment__shop").get(pk=order.pk)
        _check_shippable(locked)
        # One read of the shipments (under the order's lock): the slip upload ships thousands of orders.
        shipments = list(locked.shipments.order_by("id"))
        unshipped = [s for s in shipments if s.shipped_at is None]
        if unshipped:
            shipment = unshipped[0]
        elif shipments:
            raise InvalidTransition(_("Every shipment of this order has already been shipped."))
        else:
            shipment = Shipment(order=locked, address="")
        shipment.carrier, shipment.slip_number, shipment.shipped_at = carrier, slip_number, at
        shipment.save()
        if len(unshipped) <= 1:  # this was the last one to ship
            locked.fulfilment_status = Fulfilment.SHIPPED
            locked.save(update_fields=["fulfilment_status"])
        OrderEvent.objects.create(order=locked, actor_id=by.user_id, actor_label=by.label,
                                  message=f"発送 {carrier} 伝票番号 {slip_number}".replace("  ", " "))
        # Any goods on their way make the order 配送中: a cancel is then a return (SPEC 4.4).
        delivery.move(locked, Delivery.SHIPPING, by=by)
    return shipment


def mark_delivered(order: Order, *, by: Actor, at=None) -> int:
    """The shipped goods arrived (配達完了); once every shipment has, the order is 配送完了."""
    by.require(order.shop_id, Perm.CAPTURE)
    at = at or timezone.now()
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        count = locked.shipments.filter(shipped_at__isnull=False, delivered_at__isnull=True).update(delivered_at=at)
        if not count:
            raise InvalidTransition(_("No shipped goods of this order are on their way."))
        OrderEvent.objects.create(order=locked, actor_id=by.user_id, actor_label=by.label,
                                  message=f"配達完了 ({count}件)")
        if not locked.shipments.filter(delivered_at__isnull=True).exists():
            delivery.move(locked, Delivery.DELIVERED, by=by)
    return count


def mark_returned(order: Order, *, by: Actor, at=None) -> int:
    """The shipped goods came back (返送): a shipped wallet order may then be cancelled."""
    by.require(order.shop_id, Perm.CANCEL)
    at = at or timezone.now()
    with transaction.atomic():
        if order.payment_id:
            lock_payment(order.payment_id)  # the fixed order: payment, then order
        locked = Order.objects.select_for_update().get(pk=order.pk)
        count = locked.shipments.filter(shipped_at__isnull=False, returned_at__isnull=True).update(returned_at=at)
        if not count:
            raise InvalidTransition(_("No shipped goods of this order are waiting to come back."))
        OrderEvent.objects.create(order=locked, actor_id=by.user_id, actor_label=by.label,
                                  message=f"返送受領 ({count}件)")
    return count
