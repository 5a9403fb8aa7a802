"""Cancelling one order of a cart (SPEC 4.1): several orders share one payment; only this order's part is
refunded (an amount decrease at the gateway). The last live order of a payment cancels the payment.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from orders.models import Fulfilment, Order, OrderEvent
from payments import services as payment_services
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.models import LIVE_CAPTURED, OperationKind
from payments.operations import Plan

GONE = (Fulfilment.CANCELLED, Fulfilment.NOT_PLACED)


def _other_live_orders(order: Order):
    return order.payment.orders.exclude(pk=order.pk).exclude(fulfilment_status__in=GONE)


def _remaining(order: Order) -> int:
    return sum(total - points for total, points in _other_live_orders(order).values_list("total", "points_used"))


def _change_params(order: Order) -> dict:
    payment = order.payment
    if payment.is_wallet:
        if payment.pending_amount is not None:
            raise InvalidTransition(_("This payment has an unsent amount change; send it to the PG first, then "
                                      "cancel the order."))
        return {"new_amount": _remaining(order)}
    return {"new_amount": _remaining(order), "job": "CAPTURE" if payment.status in LIVE_CAPTURED else "AUTH"}


def preview_cancel_order(order: Order, *, by: Actor) -> Plan:
    if order.fulfilment_status in GONE:
        raise InvalidTransition(_("This order is already cancelled."))
    if not _other_live_orders(order).exists():
        return payment_services.preview(order.payment, OperationKind.CANCEL, by=by)
    return payment_services.preview(order.payment, OperationKind.CHANGE_AMOUNT, by=by, **_change_params(order))


def cancel_order(order: Order, *, by: Actor, idempotency_key: str | None = None):
    if order.fulfilment_status in GONE:
        raise InvalidTransition(_("This order is already cancelled."))
    payment = order.payment
    if not _other_live_orders(order).exists():
        return payment_services.cancel_payment(payment, by=by, idempotency_key=idempotency_key)
    op = payment_services.change_amount(payment, by=by, idempotency_key=idempotency_key, **_change_params(order))
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        before = locked.get_fulfilment_status_display()
        locked.fulfilment_status = Fulfilment.CANCELLED
        locked.save(update_fields=["fulfilment_status"])
        OrderEvent.objects.create(order=locked, actor_id=by.user_id, actor_label=by.label, message=(
            f"対応状況 {before} → {locked.get_fulfilment_status_display()} (カートの他の注文は継続: "
            f"決済金額 ¥{op.previous_amount:,} → ¥{op.amount:,})"))
    return op
