"""Sent when a reservation becomes confirmed or cancelled. Nothing in the project listens: the payment side
(konbini numbers, the payment's cancel) is called directly by reservations.payment_flow, around the services.

Sent after the commit only: a listener must never act on a confirmation that was rolled back.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

reservation_confirmed = Signal()  # kwargs: reservation
reservation_cancelled = Signal()  # kwargs: reservation


def send_on_commit(signal: Signal, reservation) -> None:
    from reservations.models import Reservation

    transaction.on_commit(lambda: signal.send(sender=Reservation, reservation=reservation))
