"""Registrations listen to their payments: a line cancel whose answer was lost is finished once settled."""

from __future__ import annotations

from django.dispatch import receiver

from payments.models import Payment
from payments.signals import payment_changed


@receiver(payment_changed, sender=Payment)
def finish_registration_change(sender, payment, operation, **kwargs):
    from registrations.changes import lines_cancelled_by

    lines_cancelled_by(operation)  # idempotent: the synchronous path already finished its own lines
