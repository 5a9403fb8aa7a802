"""Moves the fulfilment status with the payment where the meaning is unambiguous (SPEC 3.1)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from orders.models import Delivery, Fulfilment, Order, OrderEvent
from payments.models import CANCELLED, Payment, Status
from payments.signals import payment_changed

# payment status -> (fulfilment status, statuses it may move from)
MOVES = {
    Status.AUTHORIZED: (Fulfilment.NEW, (Fulfilment.PENDING_PAYMENT, Fulfilment.CANCELLED)),
    Status.CAPTURED: (Fulfilment.PAID, (Fulfilment.PENDING_PAYMENT, Fulfilment.NEW, Fulfilment.CANCELLED)),
    Status.CAPTURED_IMMEDIATELY: (Fulfilment.PAID,
                                  (Fulfilment.PENDING_PAYMENT, Fulfilment.NEW, Fulfilment.CANCELLED)),
    Status.FAILED: (Fulfilment.NOT_PLACED, (Fulfilment.PENDING_PAYMENT,)),
    **{s: (Fulfilment.CANCELLED, (Fulfilment.PENDING_PAYMENT, Fulfilment.NEW, Fulfilment.PAID,
                                  Fulfilment.SHIPPED)) for s in (*CANCELLED, Status.CANCELLED)},
}


@receiver(payment_changed, sender=Payment)
def finish_order_cancel(sender, payment, operation, **kwargs):
    from orders.cancellation import order_cancelled_by

    order_cancelled_by(operation)


@receiver(payment_changed, sender=Payment)
def move_fulfilment(sender, payment, operation, **kwargs):
    move = MOVES.get(payment.status)
    if move is None:
        return
    target, sources = move
    if operation.status_before not in (*CANCELLED, Status.CANCELLED):
        # Only a payment coming back from cancelled (re-authorization) revives cancelled orders; an order
        # cancelled alone from a cart stays cancelled whatever its shared payment does next.
        sources = tuple(s for s in sources if s != Fulfilment.CANCELLED)
    with transaction.atomic():
        orders = list(Order.objects.select_for_update().filter(payment_id=payment.pk,
                                                               fulfilment_status__in=sources))
        for order in orders:
            before = order.get_fulfilment_status_display()
            order.fulfilment_status = target
            order.save(update_fields=["fulfilment_status"])
            OrderEvent.objects.create(
                order=order, actor_id=operation.actor_id, actor_label=operation.actor_label,
                message=f"対応状況 {before} → {order.get_fulfilment_status_display()} "
                        f"(決済ステータス: {payment.get_status_display()})",
            )


# The payment secured the money (authorized, captured, paid at the store or by transfer): 入金待ち → 新規注文.
SECURED = (Status.AUTHORIZED, Status.CAPTURED, Status.CAPTURED_IMMEDIATELY, Status.PAID)


@receiver(payment_changed, sender=Payment)
def move_delivery(sender, payment, operation, **kwargs):
    from orders.delivery import PAID_FROM, move

    if payment.status not in SECURED:
        return
    with transaction.atomic():
        for order in Order.objects.select_for_update().filter(
                payment_id=payment.pk, delivery_status__in=PAID_FROM,
                fulfilment_status__in=(Fulfilment.PENDING_PAYMENT, Fulfilment.NEW, Fulfilment.PAID)):
            move(order, Delivery.NEW, actor_id=operation.actor_id, actor_label=operation.actor_label,
                 note=f"決済ステータス: {payment.get_status_display()}")
