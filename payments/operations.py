"""One small class per card operation: validate into a plan, call the gateway, apply the result.

The ledger engine (payments.ledger) runs them all the same way; the sync resolver uses
`outcome_from_trade` to decide, from SearchTrade alone, whether an operation whose answer was lost
was applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.utils.translation import gettext as _

from gateways.base import GatewayRefused, TransactionResult
from payments import card_rules
from payments.card_rules import JOB_LABELS, MAX_AMOUNT
from payments.errors import InvalidAmount, InvalidToken, InvalidTransition
from payments.gateway_factory import card_gateway_for, card_ref
from payments.models import OperationKind, Payment, Status
from shops.models import CaptureMode
from shops.roles import Perm


@dataclass(frozen=True)
class Plan:
    job: str
    amount: int
    previous_amount: int
    explanation: str
    token: str = ""  # one-time card token; never stored
    context: dict = field(default_factory=dict, compare=False)  # call-time inputs that are not money (RetURL)


def validate_amount(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(_("The amount must be a whole number of yen."))
    if value <= 0:
        raise InvalidAmount(_("The amount must be at least ¥1."))
    if value > MAX_AMOUNT:
        raise InvalidAmount(_("The amount must be at most ¥%(max)s.") % {"max": f"{MAX_AMOUNT:,}"})
    return value


# GMO tokens are long base64-alphabet strings; anything digit-only is very likely a card number.
TOKEN_RE = re.compile(r"^[A-Za-z0-9+/=_-]{20,256}$")


def validate_token(token) -> str:
    if not isinstance(token, str) or not TOKEN_RE.match(token) or token.isdigit():
        raise InvalidToken(_("The card token is malformed. Send the token from the gateway's tokenizer, "
                             "never a card number."))
    return token


def card_availability(kind: str, payment: Payment, now: datetime) -> card_rules.Availability:
    """card_rules.availability for this card payment (its status, authorization and the shop's validity)."""
    return card_rules.availability(kind, payment.status, authorized_at=payment.authorized_at,
                                   validity_days=payment.shop.authorization_validity_days, now=now)


def _require(kind: str, payment: Payment, now: datetime) -> None:
    verdict = card_availability(kind, payment, now)
    if not verdict.allowed:
        raise InvalidTransition(verdict.reason)


def checkout_job(shop) -> str:
    """The checkout's job as the shop captures: CAPTURE (即時売上) or AUTH (仮売上)."""
    return "CAPTURE" if shop.capture_mode == CaptureMode.CAPTURE else "AUTH"


def entered(gateway, ref, payment: Payment, plan: Plan):
    """`ref`, or the transaction registered now (EntryTran) when it has no AccessID yet.

    The ids are persisted before executing, so a lost ExecTran answer can still be looked up and later
    operated on (or cancelled).
    """
    if ref.access_id:
        return ref
    ref = gateway.entry(payment.gateway_order_id, plan.job, plan.amount)
    Payment.objects.filter(pk=payment.pk).update(access_id=ref.access_id, access_pass=ref.access_pass)
    return ref


class CardOperation:
    kind: str
    perm: str

    def plan(self, payment: Payment, now: datetime, **kwargs) -> Plan:
        raise NotImplementedError

    def call(self, payment: Payment, plan: Plan) -> TransactionResult:
        raise NotImplementedError

    def apply(self, payment: Payment, plan: Plan, at: datetime) -> None:
        raise NotImplementedError

    def recorded(self, payment: Payment, plan: Plan, op) -> None:
        """After the operation is recorded as applied, in the same transaction (e.g. open a refund task)."""

    def on_refused(self, payment: Payment, plan: Plan, exc: GatewayRefused) -> bool:
        """Return True when the refusal itself changes the payment (saved by the engine)."""
        return False

    def outcome_from_trade(self, payment: Payment, plan: Plan, trade: TransactionResult | None) -> bool | None:
        """True: applied at the gateway; False: not applied; None: cannot tell."""
        raise NotImplementedError


# The cancel job of money the gateway cannot give back (wallet, konbini): it is refunded by hand.
MANUAL_REFUND = "MANUAL"


def held_after_manual_refunds(payment: Payment) -> int:
    """What the payment still holds of the money it took, less what manual refund tasks already give back
    (e.g. one option line of a registration refunded by hand): a later cancel refunds only the rest."""
    from refunds.models import RefundTask  # refunds builds on payments

    promised = RefundTask.objects.filter(payment_id=payment.pk).aggregate(total=models.Sum("amount"))["total"]
    return max(payment.captured_amount - (promised or 0), 0)


class CancelByState:
    """The plan of a cancel whose job follows from the payment's state alone (konbini, bank transfer).

    Subclasses give `cancellable` (states), `refused` (a lazy message with %(status)s) and `job(payment)` →
    (job, amount, explanation); the operator's reason is kept with the explanation.
    """

    cancellable: tuple = ()
    refused = ""

    def plan(self, payment, now, reason="", **kwargs):
        if payment.status not in self.cancellable:
            raise InvalidTransition(self.refused % {"status": payment.get_status_display()})
        job, amount, text = self.job(payment)
        if reason:
            text = f"{text} ({reason})"
        return Plan(job, amount, payment.amount, text)


class OpensRefundTask:
    """For a cancel spec: a MANUAL_REFUND job opens its refund task in the transaction that records the cancel."""

    def recorded(self, payment: Payment, plan: Plan, op) -> None:
        if plan.job == MANUAL_REFUND and plan.amount:
            from refunds.services import open_refund_task  # refunds builds on payments

            open_refund_task(payment, amount=plan.amount, reason=plan.explanation, actor_label=op.actor_label)


class Authorize(CardOperation):
    kind = OperationKind.AUTHORIZE
    perm = Perm.VIEW  # the customer's checkout: any actor of the shop may start it

    def plan(self, payment, now, token=None, **kwargs):
        if payment.status != Status.UNPROCESSED:
            raise InvalidTransition(_("This payment was already processed."))
        token = validate_token(token)
        job = checkout_job(payment.shop)
        return Plan(job, payment.amount, 0, _("%(job)s of ¥%(amount)s at checkout")
                    % {"job": JOB_LABELS[job], "amount": f"{payment.amount:,}"}, token=token)

    def call(self, payment, plan):
        gateway = card_gateway_for(payment.shop)
        ref = entered(gateway, card_ref(payment), payment, plan)
        return gateway.execute(ref, plan.token, plan.job, plan.amount)

    def apply(self, payment, plan, at):
        payment.authorization_succeeded(plan.job, at)

    def on_refused(self, payment, plan, exc):
        payment.authorization_refused()
        return True

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None or trade.status == "UNPROCESSED":
            return False
        return trade.status in ("AUTH", "CAPTURE") or None


class Capture(CardOperation):
    kind = OperationKind.CAPTURE
    perm = Perm.CAPTURE

    def plan(self, payment, now, **kwargs):
        _require(self.kind, payment, now)
        return Plan("SALES", payment.amount, payment.amount,
                    _("¥%(amount)s is charged to the card through GMO (実売上 SALES).")
                    % {"amount": f"{payment.amount:,}"})

    def call(self, payment, plan):
        return card_gateway_for(payment.shop).alter(card_ref(payment), "SALES", plan.amount)

    def apply(self, payment, plan, at):
        payment.capture_succeeded(at)

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        if trade.status == "SALES":
            return True
        return False if trade.status == "AUTH" else None


class Cancel(CardOperation):
    kind = OperationKind.CANCEL
    perm = Perm.CANCEL

    def plan(self, payment, now, **kwargs):
        _require(self.kind, payment, now)
        job = card_rules.choose_cancel_job(payment.status, payment.authorized_at, payment.captured_at, now)
        if payment.captured_amount:
            effect = _("¥%(amount)s is refunded to the card through GMO") % {
                "amount": f"{payment.captured_amount:,}"}
        else:
            effect = _("the authorization of ¥%(amount)s is released at GMO (nothing was charged)") % {
                "amount": f"{payment.amount:,}"}
        explanation = _("%(job)s: %(effect)s, because %(reason)s.") % {
            "job": JOB_LABELS[job.job], "effect": effect, "reason": job.reason}
        return Plan(job.job, payment.captured_amount or payment.amount, payment.amount, explanation)

    def call(self, payment, plan):
        return card_gateway_for(payment.shop).alter(card_ref(payment), plan.job)

    def apply(self, payment, plan, at):
        payment.cancel_succeeded(plan.job, at)

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        return trade.status in ("VOID", "RETURN", "RETURNX") or (
            False if trade.status in ("AUTH", "SALES", "CAPTURE") else None)


class ChangeAmount(CardOperation):
    kind = OperationKind.CHANGE_AMOUNT
    perm = Perm.CHANGE_AMOUNT

    def plan(self, payment, now, new_amount=None, job=None, **kwargs):
        _require(self.kind, payment, now)
        new_amount = validate_amount(new_amount)
        if new_amount == payment.amount:
            raise InvalidAmount(_("The new amount is the same as the current amount."))
        jobs = card_rules.change_amount_jobs(payment.status)
        job = job or jobs[0]
        if job not in jobs:
            raise InvalidTransition(_("After an amount change this payment can only become: %(jobs)s.")
                                    % {"jobs": ", ".join(JOB_LABELS[j] for j in jobs)})
        diff = new_amount - payment.amount
        if job == "CAPTURE" and payment.captured_amount and diff < 0:
            money = _("¥%(diff)s is refunded to the card") % {"diff": f"{-diff:,}"}
        elif job == "CAPTURE":
            money = _("¥%(new)s is charged to the card now") % {"new": f"{new_amount:,}"}
        else:
            money = _("a new authorization of ¥%(new)s replaces the current one; capture it later") % {
                "new": f"{new_amount:,}"}
        explanation = _("金額変更 ¥%(old)s → ¥%(new)s, then %(job)s: %(money)s.") % {
            "old": f"{payment.amount:,}", "new": f"{new_amount:,}", "job": JOB_LABELS[job], "money": money}
        return Plan(job, new_amount, payment.amount, explanation)

    def call(self, payment, plan):
        return card_gateway_for(payment.shop).change(card_ref(payment), plan.job, plan.amount)

    def apply(self, payment, plan, at):
        payment.amount_changed(plan.job, plan.amount, at)

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        if trade.amount == plan.amount and trade.status == plan.job:
            return True
        if trade.amount == plan.previous_amount:
            return False
        return None


class Reauthorize(CardOperation):
    kind = OperationKind.REAUTHORIZE
    perm = Perm.REAUTHORIZE

    def plan(self, payment, now, new_amount=None, job="AUTH", **kwargs):
        _require(self.kind, payment, now)
        amount = validate_amount(payment.amount if new_amount is None else new_amount)
        if job not in ("AUTH", "CAPTURE"):
            raise InvalidTransition(_("Re-authorization can only be followed by 仮売上 or 即時売上."))
        return Plan(job, amount, payment.amount, _("再オーソリ: %(job)s of ¥%(amount)s on the same card.")
                    % {"job": JOB_LABELS[job], "amount": f"{amount:,}"})

    def call(self, payment, plan):
        return card_gateway_for(payment.shop).alter(card_ref(payment), plan.job, plan.amount)

    def apply(self, payment, plan, at):
        payment.reauthorized(plan.job, plan.amount, at)

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        if trade.status == plan.job and trade.amount == plan.amount:
            return True
        return False if trade.status in ("VOID", "RETURN", "RETURNX") else None


SPECS: dict[str, CardOperation] = {
    spec.kind: spec for spec in (Authorize(), Capture(), Cancel(), ChangeAmount(), Reauthorize())
}
