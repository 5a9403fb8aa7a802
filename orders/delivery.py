"""配送状態 (SPEC 4.4, seed 003): moving an order's delivery state, with a line in its history.

入金待ち → 新規注文 when the payment is authorized / captured / paid (orders.receivers); 配送準備 when a ship date
is set and 配送遅延 when marked delayed (claims.services); 配送中 when shipped and 配送完了 when delivered
(orders.shipping). Callers hold the order's row lock.
"""

from __future__ import annotations

import datetime as dt

from orders.models import Delivery, Order, OrderEvent

# Payment moved to a state where the money is secured: the order leaves 入金待ち.
PAID_FROM = (Delivery.AWAITING_PAYMENT,)


def move(order: Order, target: str, *, by=None, actor_id=None, actor_label: str = "", ship_date: dt.date | None = None,
         note: str = "") -> bool:
    """Set the (locked) order's delivery state and record it; False when it already was `target`."""
    if order.delivery_status == target and (ship_date is None or ship_date == order.ship_date):
        return False
    before = order.get_delivery_status_display()
    order.delivery_status = target
    fields = ["delivery_status"]
    if ship_date is not None:
        order.ship_date = ship_date
        fields.append("ship_date")
    order.save(update_fields=fields)
    message = f"配送状態 {before} → {order.get_delivery_status_display()}"
    if note:
        message = f"{message} ({note})"
    OrderEvent.objects.create(order=order, actor_id=by.user_id if by else actor_id,
                              actor_label=by.label if by else actor_label, message=message)
    return True
