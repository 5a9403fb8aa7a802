"""Reservations listen to their payments: mail the numbers once issued, finish a cancel settled later."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver
from django_fsm import can_proceed

from payments.actors import Actor
from payments.models import OperationKind, OperationState, Payment, Status
from payments.signals import payment_changed
from reservations.models import Reservation, ReservationEvent

# The payment's own moves that the reservation's history should show (seed 001: staff follow them).
PAYMENT_MOVES = {Status.PAID: "決済完了: コンビニで支払われました",
                 Status.EXPIRED: "決済エラー: 支払い期限切れ (予約は確定のまま)"}

logger = logging.getLogger(__name__)


@receiver(payment_changed, sender=Payment)
def reservation_payment_changed(sender, payment: Payment, operation, **kwargs) -> None:
    if not payment.is_konbini or operation.state != OperationState.SUCCEEDED:
        return
    if payment.status in PAYMENT_MOVES and operation.status_before != payment.status:
        _record_payment_move(payment)
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


def _record_payment_move(payment: Payment) -> None:
    reservation = Reservation.objects.filter(payment=payment).first()
    if reservation is None:
        return
    message = f"{PAYMENT_MOVES[payment.status]} ({payment.gateway_order_id})"
    # Once per move: the same change may be reported by the webhook task and a status check.
    if not ReservationEvent.objects.filter(reservation=reservation, message=message).exists():
        ReservationEvent.objects.create(reservation=reservation, message=message, actor_label="Stripe")
