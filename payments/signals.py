"""Tells business apps (orders, reservations…) that a payment changed, after the commit.

The payments core knows no order: apps subscribe to `payment_changed` (sender=Payment).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

payment_changed = Signal()  # kwargs: payment, operation


def notify_payment_changed(payment, operation) -> None:
    from payments.models import Payment

    transaction.on_commit(
        lambda: payment_changed.send(sender=Payment, payment=payment, operation=operation)
    )
