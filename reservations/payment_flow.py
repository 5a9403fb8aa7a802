"""Reservations with their konbini payment (SPEC 4.2, seed 001): what admin pages, customer pages and the
API call. The seat logic stays in reservations.services; this module adds the money side around it.

- Numbers are issued only once a reservation is confirmed (first-come booking, approval, promotion to
  confirmed), after the reservation's transaction committed: a rolled-back confirmation never issues.
  If Stripe cannot be reached the reservation stays confirmed and the konbini poll issues them later.
- Cancel: the payment's side first (nothing before numbers; the PaymentIntent while awaiting payment or
  expired; a Stripe refund or a manual refund task once paid), then the seats. A refused payment cancel
  leaves the reservation as it was. An unknown outcome is finished by the receiver once the status check
  settles the operation (context ``cancel_reservation``).
"""

from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from payments.actors import Actor
from payments.errors import ChangedMeanwhile, GatewayDeclined, PaymentError
from payments.models import KONBINI_CANCELLABLE
from payments.services import cancel_payment, issue_konbini_numbers, sync_payment
from reservations import services
from reservations.errors import UnknownReservation
from reservations.models import Reservation
from reservations.selectors import NOT_ISSUED, attention_of

logger = logging.getLogger(__name__)


def _load(reservation) -> Reservation:
    pk = reservation.pk if hasattr(reservation, "pk") else reservation
    found = Reservation.objects.select_related("payment__shop", "slot__event", "shop").filter(pk=pk).first()
    if found is None:
        raise UnknownReservation()
    return found


def issue_numbers_if_confirmed(reservation, *, by: Actor) -> bool:
    """Issue the konbini numbers of a confirmed reservation that has none yet, and mail them. True when issued.

    Failures are logged, not raised: the confirmation stands (seed 001) and the poll retries the issue.
    """
    reservation = _load(reservation)
    return attention_of(reservation) == NOT_ISSUED and _issue_numbers(reservation, by=by)


def _issue_numbers(reservation: Reservation, *, by: Actor) -> bool:
    try:
        issue_konbini_numbers(reservation.payment, by=by)  # reservations.receivers mails them once recorded
    except PaymentError as exc:
        logger.warning("reservation %s: konbini numbers not issued (%s); the poll retries", reservation.pk,
                       exc.code)
        return False
    return True


def _after_confirmation(reservation, *, by: Actor) -> Reservation:
    """The reservation as it is after issuing its numbers if it became confirmed; read again only if an
    issue was tried (it changes the payment)."""
    reservation = _load(reservation)
    if attention_of(reservation) != NOT_ISSUED:
        return reservation
    _issue_numbers(reservation, by=by)
    return _load(reservation)


def book(slot, *, name: str, email: str = "", seats: int = 1, by: Actor, payment_method: str = "none",
         request_key: str | None = None):
    return _after_confirmation(services.book(slot, name=name, email=email, seats=seats, by=by,
                                             payment_method=payment_method, request_key=request_key), by=by)


def approve(reservation, *, by: Actor) -> Reservation:
    return _after_confirmation(services.approve(reservation, by), by=by)


def promote(reservation, *, by: Actor) -> Reservation:
    return _after_confirmation(services.promote(reservation, by), by=by)


def cancel(reservation, *, by: Actor, reason: str = "", idempotency_key: str | None = None) -> list[Reservation]:
    """キャンセル with the payment's side first. Returns the waitlisted reservations promoted."""
    reservation = _load(reservation)
    services.check_transition(reservation, by, "cancel")  # again under the lock in services.cancel
    payment = reservation.payment
    if payment is not None and payment.status in KONBINI_CANCELLABLE:
        _cancel_payment(reservation, payment, by=by, reason=reason, idempotency_key=idempotency_key)
    return finish_cancel(reservation, by=by, reason=reason)


def _cancel_payment(reservation: Reservation, payment, *, by: Actor, reason: str, idempotency_key) -> None:
    try:
        cancel_payment(payment, by=by, reason=reason, idempotency_key=idempotency_key,
                       context={"cancel_reservation": reservation.pk})
    except GatewayDeclined:
        # Stripe refused (e.g. the customer is paying at the register, or already paid): ask what it holds.
        seen = payment.status
        try:
            result = sync_payment(payment, actor=by)
        except PaymentError:
            raise ChangedMeanwhile(_("Stripe refused to cancel the konbini payment and could not be asked "
                                     "why. Nothing was changed; try again later.")) from None
        if result.payment.status != seen:
            raise ChangedMeanwhile(_("The konbini payment is now “%(status)s” at Stripe. Nothing was cancelled; "
                                     "check what a cancel does now, then cancel again.")
                                   % {"status": result.payment.get_status_display()}) from None
        raise ChangedMeanwhile(_("Stripe refused to cancel the konbini payment now; the customer may be paying "
                                 "at the store at this moment. Nothing was changed; try again in a few "
                                 "minutes.")) from None


def finish_cancel(reservation, *, by: Actor, reason: str = "") -> list[Reservation]:
    promoted = services.cancel(reservation, by, reason)
    for waiting in promoted:
        issue_numbers_if_confirmed(waiting, by=by)
    return promoted
