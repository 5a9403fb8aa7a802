"""Editing an order after payment: lines and fees change only through the payment method's amount rules.

For a wallet payment the new amount is held as an unsent change on the payment (validated now against
the window and increase rules the PG will apply) until an operator sends it to the PG.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from orders.cancellation import GONE
from orders.models import Order, OrderEvent
from payments import services as payment_services
from payments.actors import Actor
from payments.errors import InvalidAmount, InvalidTransition
from payments.ledger import lock_payment


@dataclass(frozen=True)
class LineChange:
    line_id: int
    quantity: int
    unit_price: int


def payment_amount_after(order: Order, new_total: int) -> int:
    """What the payment must hold once `order` totals `new_total`: every live order sharing it (cart) counts;
    one cancelled alone was already taken off the payment and must not come back."""
    others = order.payment.orders.exclude(pk=order.pk).exclude(fulfilment_status__in=GONE).values_list(
        "total", "points_used")
    return new_total - order.points_used + sum(total - points for total, points in others)


def edit_order(order: Order, *, lines: list[LineChange], shipping_fee: int, fees: int, by: Actor,
               payment_version: int | None = None) -> Order:
    payment = order.payment
    if payment is None or not payment.is_wallet:
        raise InvalidTransition(_("Only orders paid with Recruit easy pay are edited here; for a card payment "
                                  "change the payment's amount."))
    for value in (shipping_fee, fees, *(c.unit_price for c in lines)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidAmount(_("Prices and fees must be whole numbers of yen, 0 or more."))
    if any(isinstance(c.quantity, bool) or not isinstance(c.quantity, int) or c.quantity < 1 for c in lines):
        raise InvalidAmount(_("Quantities must be whole numbers, 1 or more."))
    if payment_version is not None:
        payment.version = payment_version
    with transaction.atomic():
        lock_payment(payment.pk)  # payment first, then the order: the fixed lock order
        locked = Order.objects.select_for_update().get(pk=order.pk)
        current = {line.pk: line for line in locked.lines.all()}
        unknown = [c.line_id for c in lines if c.line_id not in current]
        if unknown:
            raise InvalidTransition(_("Unknown order line: %(ids)s.") % {"ids": ", ".join(map(str, unknown))})
        changes = {c.line_id: c for c in lines}
        line_total = sum(changes[pk].quantity * changes[pk].unit_price if pk in changes else line.subtotal
                         for pk, line in current.items())
        new_total = line_total + shipping_fee + fees
        if new_total <= locked.points_used:
            raise InvalidAmount(_("The new total ¥%(total)s does not exceed the points used; cancel the order "
                                  "instead.") % {"total": f"{new_total:,}"})
        old_total = locked.total
        payment_services.record_amount_change(payment, new_amount=payment_amount_after(locked, new_total), by=by)
        for pk, change in changes.items():
            line = current[pk]
            if (line.quantity, line.unit_price) != (change.quantity, change.unit_price):
                line.quantity, line.unit_price = change.quantity, change.unit_price
                line.save(update_fields=["quantity", "unit_price"])
        locked.shipping_fee, locked.fees, locked.total = shipping_fee, fees, new_total
        locked.save(update_fields=["shipping_fee", "fees", "total"])
        payment.refresh_from_db()
        # The history is stored text, written in the operators' language like the other events.
        note = "PG未送信" if payment.pending_amount is not None else "PGの金額と同じ"
        OrderEvent.objects.create(order=locked, actor_id=by.user_id, actor_label=by.label,
                                  message=f"注文編集 合計 ¥{old_total:,} → ¥{new_total:,} ({note})")
    return locked
