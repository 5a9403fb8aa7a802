"""What the wallet rules need to know about a payment's orders: shipped, returned, several addresses."""

from __future__ import annotations

from payments.wallet_facts import FulfilmentFacts


def fulfilment_facts(payment) -> FulfilmentFacts | None:
    from orders.models import Shipment

    shipments = list(Shipment.objects.filter(order__payment_id=payment.pk).values_list("shipped_at", "returned_at"))
    if not shipments:
        return None
    shipped = [row for row in shipments if row[0] is not None]
    return FulfilmentFacts(
        shipped=bool(shipped),
        goods_returned=bool(shipped) and all(returned is not None for _, returned in shipped),
        multi_address=len(shipments) > 1,
    )
