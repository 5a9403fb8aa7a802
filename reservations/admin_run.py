"""Run one reservation operation for an admin page and say what happened, money included.

The work is done by reservations.payment_flow / payment_requests (they lock, check the permission and the
transition, and refuse without changing anything); this module only turns their result or refusal into
the message the operator reads.
"""

from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext as _

from payments import services
from payments.actors import Actor
from payments.errors import OutcomeUnknown, PaymentError
from payments.formatting import yen
from payments.models import OperationKind, OperationState, Payment, PaymentOperation
from payments.models import Status as PaymentStatus
from reservations import payment_flow, payment_requests
from reservations.admin_effects import APPROVE, CANCEL, ISSUE_NUMBERS, PROMOTE, REQUEST_PAYMENT
from reservations.models import Reservation


def run(operation: str, reservation: Reservation, actor: Actor, *, reason: str = "",
        idempotency_key: str | None = None) -> tuple[int, str]:
    """(message level, message) of running ``operation``; a refusal is an ERROR message, never raised."""
    try:
        return _RUN[operation](reservation, actor, reason, idempotency_key)
    except OutcomeUnknown as exc:
        if operation == CANCEL:
            return messages.WARNING, _("%(who)s: %(why)s The reservation is cancelled once the status check "
                                       "confirms the payment's cancel.") % {"who": reservation.customer_name,
                                                                            "why": exc.message}
        return messages.WARNING, f"{reservation.customer_name}: {exc.message}"
    except PaymentError as exc:
        return messages.ERROR, f"{reservation.customer_name}: {exc.message}"


def _numbers_line(reservation: Reservation) -> tuple[int, str]:
    """After a confirmation: were the konbini numbers issued (and mailed), or not?"""
    payment = reservation.payment
    if payment is None or not payment.is_konbini:
        return messages.SUCCESS, ""
    if payment.status == PaymentStatus.AWAITING_PAYMENT:
        return messages.SUCCESS, _("The konbini payment numbers were issued and e-mailed to %(email)s.") % {
            "email": payment.payer_email or reservation.customer_email}
    if payment.status == PaymentStatus.AWAITING_APPROVAL:
        return messages.WARNING, _("The konbini payment numbers could not be issued now; the reservation is "
                                   "listed as needing attention and the konbini poll tries again.")
    return messages.SUCCESS, ""


def _with_numbers(done: str, reservation: Reservation) -> tuple[int, str]:
    level, line = _numbers_line(reservation)
    return level, f"{done} {line}".strip()


def _approve(reservation, actor, reason, key):
    reservation = payment_flow.approve(reservation, by=actor)
    return _with_numbers(_("%(who)s approved.") % {"who": reservation.customer_name}, reservation)


def _promote(reservation, actor, reason, key):
    reservation = payment_flow.promote(reservation, by=actor)
    return _with_numbers(_("%(who)s promoted from the waitlist.") % {"who": reservation.customer_name}, reservation)


def _cancel(reservation, actor, reason, key):
    seen = _last_cancel(reservation.payment_id)
    promoted = payment_flow.cancel(reservation, by=actor, reason=reason, idempotency_key=key)
    done = _("%(who)s cancelled.") % {"who": reservation.customer_name}
    effect = _last_cancel(reservation.payment_id)
    effect = effect.explanation if effect is not None and effect != seen else ""
    if effect:
        done += " " + _("Payment: %(effect)s") % {"effect": effect}
    if promoted:
        done += " " + _("Promoted from the waitlist: %(names)s.") % {
            "names": ", ".join(r.customer_name for r in promoted)}
    return messages.SUCCESS, done


def _last_cancel(payment_id: int | None) -> PaymentOperation | None:
    """The payment's latest succeeded cancel: its ledger entry says what the cancel did to the money."""
    if payment_id is None:
        return None
    return (PaymentOperation.objects.filter(payment_id=payment_id, kind=OperationKind.CANCEL,
                                            state=OperationState.SUCCEEDED).order_by("-id").first())


def _request_payment(reservation, actor, reason, key):
    reservation = payment_requests.send_payment_request(reservation, by=actor)
    new = reservation.payment
    return messages.SUCCESS, _("A one-off payment request for %(amount)s was e-mailed to %(email)s (new payment "
                               "%(id)s).") % {"amount": yen(new.amount), "id": new.gateway_order_id,
                                              "email": new.payer_email or reservation.customer_email}


def _issue_numbers(reservation, actor, reason, key):
    payment = reservation.payment
    if payment.operations.unresolved().exists():
        # An earlier attempt's answer was lost: Stripe's own record says whether it created the voucher (it
        # is never sent again blindly); the status check keeps the numbers it finds, or closes the attempt.
        services.sync_payment(payment, actor=actor)
    payment_flow.issue_numbers_if_confirmed(reservation, by=actor)
    if Payment.objects.get(pk=payment.pk).status == PaymentStatus.AWAITING_PAYMENT:
        return messages.SUCCESS, _("The konbini payment numbers were issued and e-mailed to %(email)s.") % {
            "email": payment.payer_email or reservation.customer_email}
    return messages.ERROR, _("The konbini payment numbers could not be issued (Stripe did not answer, or refused); "
                             "nothing changed. The konbini poll tries again; the payment's history shows the "
                             "answer.")


_RUN = {APPROVE: _approve, CANCEL: _cancel, PROMOTE: _promote, REQUEST_PAYMENT: _request_payment,
        ISSUE_NUMBERS: _issue_numbers}
