"""Reservations listen to their payments: mail the numbers once issued, finish a cancel settled later."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver
from django_fsm import can_proceed

from payments.actors import Actor
from payments.models import OperationKind, OperationState, Payment
from payments.signals import payment_changed
from reservations.models import Reservation

logger = logging.getLogger(__name__)


@receiver(payment_changed, sender=Payment)
def reservation_payment_changed(sender, payment: Payment, operation, **kwargs) -> None:
    if not payment.is_konbini or operation.state != OperationState.SUCCEEDED:
        return
    if operation.kind == OperationKind.ISSUE_NUMBERS:
        reservation = Reservation.objects.select_related("slot__event", "shop").filter(payment=payment).first()
        if reservation is not None:
            from reservations.notices import numbers_notice

            with transaction.atomic():
                numbers_notice(reservation, payment)
    elif operation.kind == OperationKind.CANCEL and operation.context.get("cancel_reservation") \
            and operation.resolution:
        # Only a cancel whose answer was lost and settled by a status check: the synchronous path
        # (reservations.payment_flow.cancel) finishes its own reservation.
        reservation = Reservation.objects.filter(pk=operation.context["cancel_reservation"]).first()
        if reservation is not None and can_proceed(reservation.mark_cancelled):
            from reservations.payment_flow import finish_cancel

            finish_cancel(reservation, by=Actor.system("cancel settled by a status check"))
