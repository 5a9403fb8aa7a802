"""Bank transfer payments (銀行振込, SPEC 3.4, seed 000): never linked to a gateway.

入金待ち → 入金済 when staff mark it paid or a bank statement import matches it. A cancel only records:
before the transfer nothing is due back; after it the organizer refunds by hand (a manual refund task).
The operations still run through the ledger engine like every money step (permission, row lock, "changed
meanwhile", idempotency key, one ledger row each), with a `call` that calls nobody. So an operation left
open is only ever a crash between the engine's two steps, and the status check settles it as applied
instead of asking a gateway (there is none).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gateways.base import TransactionResult
from payments.actors import Actor
from payments.errors import InvalidAmount, InvalidTransition, PaymentError
from payments.formatting import yen
from payments.kana import name_key
from payments.konbini_operations import retained
from payments.ledger import execute, lock_payment
from payments.models import BANK_CANCELLABLE, Method, OperationKind, Payment, PaymentOperation, Status
from payments.operations import (
    MANUAL_REFUND,
    CancelByState,
    CardOperation,
    OpensRefundTask,
    Plan,
    held_after_manual_refunds,
    validate_amount,
)
from shops.models import Shop
from shops.roles import Perm

RECEIVED = "RECEIVED"  # the ledger's job word for a transfer booked as received
NOTHING_PAID = "NONE"  # a cancel before the transfer: no money to give back
NO_GATEWAY = "NO_GATEWAY"  # what a status check of a bank transfer reports


class InvalidPayer(PaymentError):
    code = "invalid_payer"


class BankOperationSpec(CardOperation):
    """No gateway call: the answer is made here, at the time the transfer was received when known."""

    def call(self, payment, plan):
        return TransactionResult(status="", amount=plan.amount,
                                 processed_at=plan.context.get("received_at") or timezone.now())

    def outcome_from_trade(self, payment, plan, trade):
        return True  # nothing was sent anywhere: only a crash between the two ledger steps leaves one open


class MarkTransferReceived(BankOperationSpec):
    """入金済にする: the transfer arrived for exactly the payment's amount."""

    kind = OperationKind.MARK_PAID
    perm = Perm.MARK_PAID

    def plan(self, payment, now, amount=None, note="", received_at=None, **kwargs):
        if payment.status != Status.AWAITING_PAYMENT:
            raise InvalidTransition(_("This bank transfer is “%(status)s”: only a payment awaiting its transfer "
                                      "can be marked paid.") % {"status": payment.get_status_display()})
        amount = payment.amount if amount is None else validate_amount(amount)
        if amount != payment.amount:
            raise InvalidAmount(_(
                "%(received)s was received but this payment is %(amount)s. An over- or underpayment is not booked: "
                "settle the difference with the payer by hand, then mark the payment paid.") % {
                "received": yen(amount), "amount": yen(payment.amount)})
        text = _("The transfer of %(amount)s was received: the payment is marked paid (入金済). No gateway is "
                 "involved.") % {"amount": yen(amount)}
        if note:
            text = f"{text} ({note})"
        return Plan(RECEIVED, amount, payment.amount, text, context={"received_at": received_at})

    def apply(self, payment, plan, at):
        payment.transfer_received(at, plan.amount)


class BankCancel(CancelByState, OpensRefundTask, BankOperationSpec):
    """キャンセル (not linked): the only cancel a bank transfer has."""

    kind = OperationKind.CANCEL
    perm = Perm.CANCEL

    cancellable = BANK_CANCELLABLE
    refused = gettext_lazy("This bank transfer is “%(status)s” and cannot be cancelled.")

    def plan(self, payment, now, reason="", retain=0, **kwargs):
        # `retain`: money kept back from the refund (the transfer fee on a customer-reason claim cancel).
        return retained(super().plan(payment, now, reason=reason, **kwargs), retain)

    @staticmethod
    def job(payment: Payment) -> tuple[str, int, str]:
        if payment.status == Status.AWAITING_PAYMENT:
            return NOTHING_PAID, 0, _(
                "Nothing was paid yet: the transfer of %(amount)s is no longer expected and nothing is refunded. "
                "Tell the payer not to transfer.") % {"amount": yen(payment.amount)}
        refund = held_after_manual_refunds(payment)
        if not refund:
            return MANUAL_REFUND, 0, _("The transfer was already refunded by hand in full: the cancel is only "
                                       "recorded, nothing more is refunded.")
        return MANUAL_REFUND, refund, _(
            "Recorded only (not linked): the organizer refunds %(amount)s by hand to the payer's bank account. "
            "A manual refund task is opened.") % {"amount": yen(refund)}

    def apply(self, payment, plan, at):
        payment.bank_cancelled(at)


BANK_SPECS: dict[str, CardOperation] = {spec.kind: spec for spec in (MarkTransferReceived(), BankCancel())}


# --- services ---------------------------------------------------------------------------------------------

def _katakana(value: str) -> str:
    """The payer's kana, trimmed; refused when it could never match a bank's print (kanji, symbols)."""
    value = (value or "").strip()
    key = name_key(value)
    if any(not (c.isascii() and (c.isalnum() or c in "()/&'") or "ァ" <= c <= "ヺ" or c == "ー") for c in key):
        raise InvalidPayer(_("The payer's name in kana (%(value)s) must be written in katakana or hiragana, as the "
                             "bank prints the transfer's sender.") % {"value": value})
    if len(value) > 200:
        raise InvalidPayer(_("The payer's name in kana is longer than 200 characters."))
    return value


def create_bank_transfer_payment(shop: Shop, *, amount: int, reference: str = "", payer_name: str, payer_kana: str,
                                 payer_email: str = "", actor: Actor) -> Payment:
    """入金待ち for `amount` (at least ¥1: a ¥0 registration has no payment). Nothing is sent anywhere."""
    from payments.services import new_gateway_order_id  # services routes to this module's specs

    actor.require(shop.pk, Perm.VIEW)
    validate_amount(amount)
    return Payment.objects.create(
        shop=shop, method=Method.BANK_TRANSFER, status=Status.AWAITING_PAYMENT, amount=amount,
        gateway_order_id=new_gateway_order_id(), reference=reference, payer_name=payer_name,
        payer_kana=_katakana(payer_kana), payer_email=payer_email)


def mark_transfer_received(payment: Payment, *, by: Actor, amount: int | None = None, note: str = "",
                           idempotency_key: str | None = None, received_at: datetime | None = None
                           ) -> PaymentOperation:
    """入金済にする, for exactly the payment's amount (an over/under payment is refused: handled by hand).

    `received_at`: when the money arrived (a statement's transfer date); now when not given.
    """
    if not payment.is_bank_transfer:
        raise InvalidTransition(_("Only a bank transfer payment is marked paid by hand."))
    op = execute(payment, BANK_SPECS[OperationKind.MARK_PAID], by, idempotency_key,
                 amount=amount, note=note, received_at=received_at)
    payment.refresh_from_db()
    return op


def sync_bank_transfer(payment: Payment, *, actor: Actor):
    """A status check with no gateway to ask: settle what a crash left open (as applied: nothing was sent
    anywhere) and report that there is no gateway. Marks the payment checked, so the status sync batch
    does not pick it up again."""
    from payments.sync import SyncResult, resolvable, settle_operation  # sync dispatches here

    now = timezone.now()
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        actor.require(locked.shop_id, Perm.VIEW)
        result = SyncResult(payment=locked, gateway_status=NO_GATEWAY)
        ops, result.in_flight = resolvable(locked)
        for op in ops:
            settle_operation(locked, op, True, where="no gateway", said="bank transfer: nothing was sent", at=now,
                             now=now, gateway_status="", result=result)
        locked.last_synced_at = now
        if result.changed:
            locked.version += 1
        locked.save()
    payment.version = locked.version
    return result
