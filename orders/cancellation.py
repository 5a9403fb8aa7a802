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
    # From what the gateway holds now, less this order's part: never re-summed from the other orders, whose
    # totals need not add up to the payment (an earlier cancel whose answer was lost, a pending edit).
    order.payment.refresh_from_db()
    remaining = order.payment.amount - order.amount_to_pay
    if remaining <= 0:
        raise InvalidTransition(_("This order's part is the whole payment; cancel the payment instead."))
    return remaining


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
    # The operation carries the order: if its answer is lost, the sync settles it and the receiver still
    # cancels this order (orders.receivers), so the payment and the orders never disagree for long.
    op = payment_services.change_amount(payment, by=by, idempotency_key=idempotency_key,
                                        context={CANCEL_ORDER: order.pk}, **_change_params(order))
    order_cancelled_by(op)
    return op


CANCEL_ORDER = "cancel_order"


def order_cancelled_by(op) -> None:
    """Cancel the order an applied amount decrease was for (idempotent: called again by the receiver)."""
    order_id = (op.context or {}).get(CANCEL_ORDER)
    if not order_id or op.state != "succeeded":
        return
    with transaction.atomic():
        locked = Order.objects.select_for_update().filter(pk=order_id).exclude(fulfilment_status__in=GONE).first()
        if locked is None:
            return
        before = locked.get_fulfilment_status_display()
        locked.fulfilment_status = Fulfilment.CANCELLED
        locked.save(update_fields=["fulfilment_status"])
        OrderEvent.objects.create(order=locked, actor_id=op.actor_id, actor_label=op.actor_label, message=(
            f"対応状況 {before} → {locked.get_fulfilment_status_display()} (カートの他の注文は継続: "
            f"決済金額 ¥{op.previous_amount:,} → ¥{op.amount:,})"))
