"""Hook points for the payment work to come (SPEC 4.2: konbini numbers are issued when a reservation
becomes confirmed; a cancellation may need a payment cancelled). Nothing listens yet.

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
