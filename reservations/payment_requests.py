"""単発決済 (one-off payment request, seed 001): after an expired konbini payment, a new payment for the same
reservation, sent to the customer as a web link; its success settles the reservation.

The expired payment stays as it is (決済エラー, its history intact) and points to its replacement; Stripe
cannot take money on it any more (a failed konbini PaymentIntent needs a new confirmation to be payable).
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.ledger import lock_payment
from payments.models import Status
from payments.services import create_konbini_payment, issue_konbini_numbers
from reservations import services
from reservations.customer_links import absolute, payment_request_path
from reservations.models import Reservation
from reservations.models import Status as ReservationStatus
from reservations.notices import payment_request_notice
from reservations.selectors import EXPIRED, attention_of
from shops.roles import Perm


def can_request_payment(reservation: Reservation) -> bool:
    return attention_of(reservation) == EXPIRED


def send_payment_request(reservation, *, by: Actor) -> Reservation:
    """Create the new payment (no numbers yet: the customer asks for them on the link's page) and mail the link."""
    with transaction.atomic():
        _slot, locked = services.lock_reservation(reservation)
        by.require(locked.shop_id, Perm.APPROVE_RESERVATIONS)
        old = lock_payment(locked.payment_id) if locked.payment_id else None
        locked.payment = old
        if not can_request_payment(locked):
            raise InvalidTransition(_("A one-off payment request is only sent for a confirmed reservation whose "
                                      "konbini payment expired (決済エラー)."))
        new = create_konbini_payment(old.shop, amount=old.amount, reference=old.reference,
                                     payer_name=old.payer_name or locked.customer_name,
                                     payer_email=old.payer_email or locked.customer_email, actor=by, requested=True)
        old.replaced_by = new
        old.version += 1
        old.save(update_fields=["replaced_by", "version", "updated_at"])
        locked.payment = new
        locked.save(update_fields=["payment"])
        services.record(locked, by, f"単発決済: 支払い依頼を送信 (¥{new.amount:,})")
        payment_request_notice(locked, new, absolute(payment_request_path(new)))
    return locked


def issue_requested_numbers(payment, *, by: Actor):
    """The customer opened the request's page and asked for numbers: issue them (deadline from now)."""
    if payment.status != Status.UNPROCESSED:
        raise InvalidTransition(_("The payment numbers of this request were already issued."))
    reservation = Reservation.objects.filter(payment=payment).first()
    if reservation is None or reservation.status != ReservationStatus.CONFIRMED:
        # Cancelled (or replaced) since the link was sent: nothing is owed any more.
        raise InvalidTransition(_("This payment request is no longer open: the reservation is not confirmed."))
    return issue_konbini_numbers(payment, by=by)
