"""What a reservation operation would do now, for the reservation and for its money, before it is confirmed.

Shared by the reservation page (its buttons and confirm pages) and the list's bulk actions, so both say the
same thing. Reads only: the operation runs through reservations.payment_flow / payment_requests, which lock
and check everything again, so this is a preview and never the authority.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django_fsm import can_proceed

from payments.actors import Actor
from payments.errors import PaymentError
from payments.formatting import yen
from payments.models import KONBINI_CANCELLABLE, OperationKind
from payments.models import Status as PaymentStatus
from payments.services import preview
from payments.specs import spec_for
from reservations.models import HOLDING, Reservation, Status, WaitlistPromotion
from reservations.payment_requests import can_request_payment
from reservations.selectors import NOT_ISSUED, attention_of, seats_left
from reservations.services import TRANSITIONS, refuse_transition
from shops.roles import Perm
from shops.selectors import user_can

APPROVE, CANCEL, PROMOTE, REQUEST_PAYMENT, ISSUE_NUMBERS = (
    "approve", "cancel", "promote", "request_payment", "issue_numbers")
OPERATIONS = (APPROVE, CANCEL, PROMOTE, REQUEST_PAYMENT, ISSUE_NUMBERS)


def operation_label(operation: str) -> str:
    return {
        APPROVE: _("Approve"),
        CANCEL: _("Cancel the reservation"),
        PROMOTE: _("Promote from the waitlist"),
        REQUEST_PAYMENT: _("Send a one-off payment request (単発決済)"),
        ISSUE_NUMBERS: _("Issue the konbini payment numbers now"),
    }[operation]


@dataclass(frozen=True)
class Effect:
    operation: str
    label: str
    allowed: bool
    reason: str = ""  # why not, when refused
    outcome: str = ""  # the reservation's side
    money: str = ""  # the payment's side


class Refused(Exception):
    def __init__(self, reason: str):
        self.reason = str(reason)
        super().__init__(self.reason)


def may_manage(user, reservation: Reservation) -> bool:
    return user_can(user, reservation.shop_id, Perm.APPROVE_RESERVATIONS)


def effect(operation: str, reservation: Reservation, user, *, free_seats: int | None = None) -> Effect:
    """The effect of ``operation`` on ``reservation`` (slot__event, shop and payment__shop loaded) for ``user``.

    ``free_seats`` of the reservation's slot, when the caller computed them for many reservations at once.
    """
    label = operation_label(operation)
    try:
        if not may_manage(user, reservation):
            raise Refused(_("You may not manage reservations of this shop."))
        outcome, money = _EFFECTS[operation](reservation, user, free_seats)
    except Refused as refused:
        return Effect(operation, label, False, reason=refused.reason)
    return Effect(operation, label, True, outcome=outcome, money=money)


def menu(reservation: Reservation, user) -> list[Effect]:
    """The operations that concern this reservation now, each allowed or not (with the reason)."""
    payment = reservation.payment
    relevant = {
        APPROVE: reservation.status == Status.PENDING_APPROVAL,
        PROMOTE: reservation.status == Status.WAITLISTED,
        CANCEL: reservation.status != Status.CANCELLED,
        REQUEST_PAYMENT: reservation.status == Status.CONFIRMED and payment is not None and payment.is_konbini,
        ISSUE_NUMBERS: attention_of(reservation) == NOT_ISSUED,
    }
    return [effect(operation, reservation, user) for operation in OPERATIONS if relevant[operation]]


# --- one function per operation: (reservation side, money side), or Refused -----------------------------

def _moves(reservation: Reservation, target) -> str:
    return _("%(status)s → %(target)s") % {"status": reservation.get_status_display(), "target": target.label}


def _no_payment() -> str:
    return _("No online payment: no payment effect.")


def _issue_plan(reservation: Reservation) -> str:
    """The money line of a confirmation: the numbers issued and e-mailed (or why they cannot be)."""
    payment = reservation.payment
    try:
        plan = preview(payment, OperationKind.ISSUE_NUMBERS)
    except PaymentError as exc:
        raise Refused(exc.message) from None
    return _("%(effect)s Recipient: %(email)s.") % {
        "effect": plan.explanation, "email": payment.payer_email or reservation.customer_email}


def _confirmation_money(reservation: Reservation) -> str:
    payment = reservation.payment
    if payment is None:
        return _no_payment()
    if not payment.is_konbini or payment.status != PaymentStatus.AWAITING_APPROVAL:
        return _("The payment is “%(status)s”: no payment effect.") % {"status": payment.get_status_display()}
    try:
        return _issue_plan(reservation)
    except Refused as refused:
        # The confirmation stands without numbers (seed 001); the page lists it as needing attention.
        return _("The konbini payment numbers cannot be issued now: %(why)s The reservation is confirmed anyway "
                 "and listed as needing attention until they are.") % {"why": refused.reason}


def _require_transition(reservation: Reservation, operation: str) -> None:
    if not can_proceed(getattr(reservation, TRANSITIONS[operation])):
        raise Refused(refuse_transition(reservation, operation).message)


def _approve(reservation: Reservation, user, free_seats) -> tuple[str, str]:
    _require_transition(reservation, APPROVE)
    return _moves(reservation, Status.CONFIRMED), _confirmation_money(reservation)


def _promote(reservation: Reservation, user, free_seats) -> tuple[str, str]:
    _require_transition(reservation, PROMOTE)
    left = seats_left(reservation.slot_id) if free_seats is None else free_seats
    if reservation.seats > left:
        raise Refused(_("Only %(left)s seats are free; this reservation needs %(seats)s.")
                      % {"left": left, "seats": reservation.seats})
    if reservation.slot.event.waitlist_promotion == WaitlistPromotion.TO_CONFIRMED:
        return _moves(reservation, Status.CONFIRMED), _confirmation_money(reservation)
    money = _no_payment() if reservation.payment is None else _(
        "No payment effect now: the konbini payment numbers are issued when the reservation is approved.")
    return _moves(reservation, Status.PENDING_APPROVAL), money


def _cancel(reservation: Reservation, user, free_seats) -> tuple[str, str]:
    _require_transition(reservation, CANCEL)
    outcome = _moves(reservation, Status.CANCELLED)
    if reservation.status in HOLDING:
        outcome += " " + _("(frees %(seats)s seats; the waitlist is promoted in order where they fit)") % {
            "seats": reservation.seats}
    payment = reservation.payment
    if payment is None:
        return outcome, _no_payment()
    if not payment.is_konbini or payment.status not in KONBINI_CANCELLABLE:
        return outcome, _("The payment is “%(status)s”: cancelling the reservation does not change it.") % {
            "status": payment.get_status_display()}
    if not user_can(user, reservation.shop_id, spec_for(payment, OperationKind.CANCEL).perm):
        raise Refused(_("Cancelling this reservation cancels its konbini payment too, and you may not cancel "
                        "payments of this shop."))
    try:
        money = preview(payment, OperationKind.CANCEL, by=Actor.for_user(user)).explanation
    except PaymentError as exc:
        raise Refused(exc.message) from None
    return outcome, money


def _request_payment(reservation: Reservation, user, free_seats) -> tuple[str, str]:
    if not can_request_payment(reservation):
        raise Refused(_("A one-off payment request is only sent for a confirmed reservation whose konbini "
                        "payment expired (決済エラー)."))
    old = reservation.payment
    return _("The reservation stays confirmed."), _(
        "A new konbini payment of %(amount)s is created and the link to it is e-mailed to %(email)s; the customer "
        "gets new payment numbers on that page. The expired payment %(old)s stays as a record (決済エラー)."
    ) % {"amount": yen(old.amount), "email": old.payer_email or reservation.customer_email,
         "old": old.gateway_order_id}


def _issue_numbers(reservation: Reservation, user, free_seats) -> tuple[str, str]:
    if attention_of(reservation) != NOT_ISSUED:
        raise Refused(_("Numbers are issued here only for a confirmed reservation whose konbini payment has "
                        "none yet."))
    return _("The reservation stays confirmed."), _issue_plan(reservation)


_EFFECTS = {APPROVE: _approve, CANCEL: _cancel, PROMOTE: _promote, REQUEST_PAYMENT: _request_payment,
            ISSUE_NUMBERS: _issue_numbers}
