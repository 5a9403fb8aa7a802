"""Operations on konbini payments through Stripe (SPEC 3.3), run by the same ledger engine as the card's.

Issue numbers: create + confirm a PaymentIntent in one call (the answer holds the per-store numbers and the
deadline). Cancel, by state: before numbers nothing to do at Stripe; awaiting payment (or expired) cancel the
PaymentIntent; paid a Stripe refund where the shop enabled it, else a manual refund task.

Every Stripe request carries the ledger operation's idempotency key (Idempotency-Key and
``metadata[ledger_key]``), so a lost answer is settled by asking Stripe what exists (retrieve, or its event
log for a create) and never by sending the request again. Paid / expired only ever come from Stripe's word:
the webhook or a retrieve (payments.konbini_sync), never from our own clock at the deadline.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gateways.base import TransactionResult
from gateways.stripe.konbini import MAX_AMOUNT, MIN_AMOUNT, KonbiniPayment
from payments.errors import InvalidAmount, InvalidTransition
from payments.formatting import yen
from payments.gateway_factory import konbini_gateway_for
from payments.models import KONBINI_CANCELLABLE, OperationKind, Payment, Status
from payments.operations import (
    MANUAL_REFUND,
    CancelByState,
    CardOperation,
    OpensRefundTask,
    Plan,
    held_after_manual_refunds,
)
from shops.roles import Perm

# Cancel jobs (besides MANUAL_REFUND).
NOTHING_AT_STRIPE, CANCEL_INTENT, STRIPE_REFUND = "NONE", "CANCEL", "REFUND"
ISSUE = "ISSUE"
# How far before the operation's start the event log is searched (clocks of two machines).
CLOCK_SLACK = timedelta(minutes=5)
# Stripe's event list may lag a request by moments: "no such create" is believed only after this long.
EVENT_LOG_SETTLE = timedelta(minutes=2)


def check_konbini_amount(amount) -> int:
    """Konbini takes 120-300,000 JPY (Stripe's limits): refused here, before any call to Stripe."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(_("The amount must be a whole number of yen."))
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise InvalidAmount(_("Konbini payments accept %(min)s to %(max)s; this payment is %(amount)s. Choose "
                              "another payment method.") % {"min": yen(MIN_AMOUNT), "max": yen(MAX_AMOUNT),
                                                            "amount": yen(amount)})
    return amount


def check_konbini_payable(shop, amount, payer_name: str, payer_email: str) -> None:
    """What Stripe needs to issue numbers: checked when the payment is created and again before issuing."""
    check_konbini_amount(amount)
    if not shop.accepts_konbini:
        raise InvalidTransition(_("This shop has no Stripe account set up for konbini payments."))
    if not payer_name or not payer_email:
        raise InvalidTransition(_("Konbini payment numbers need the customer's name and e-mail address."))


def product_description(payment: Payment) -> str:
    return f"{payment.shop.name} {payment.reference}".strip()


def numbers_from(result: KonbiniPayment) -> dict:
    """What the customer takes to the store, as we keep it (no secrets: Stripe shows these to the customer)."""
    return {
        "stores": {name: {"payment_code": code.payment_code, "confirmation_number": code.confirmation_number}
                   for name, code in result.stores.items()},
        "hosted_voucher_url": result.hosted_voucher_url or "",
        "expires_at": result.expires_at.isoformat() if result.expires_at else "",
    }


def _result(konbini: KonbiniPayment) -> TransactionResult:
    return TransactionResult(status=konbini.status, amount=konbini.amount, access_id=konbini.intent_id,
                             raw=konbini.raw)


class KonbiniOperationSpec(CardOperation):
    def gateway(self, payment: Payment):
        return konbini_gateway_for(payment.shop)

    def outcome(self, gateway, payment: Payment, op, intent: KonbiniPayment | None) -> bool | None:
        """From Stripe's own state: True applied, False not applied, None cannot tell."""
        raise NotImplementedError

    def outcome_from_trade(self, payment, plan, trade):
        return None  # konbini operations are settled by payments.konbini_sync, which calls `outcome`


class IssueNumbers(KonbiniOperationSpec):
    """支払い番号の払い出し: when the reservation is confirmed, or when the customer opens a payment request."""

    kind = OperationKind.ISSUE_NUMBERS
    perm = Perm.VIEW  # follows a confirmation the actor was allowed to make, or the customer's own request

    def plan(self, payment, now, **kwargs):
        if payment.status not in (Status.AWAITING_APPROVAL, Status.UNPROCESSED) or payment.external_id:
            raise InvalidTransition(_("The konbini payment numbers of this payment were already issued."))
        check_konbini_payable(payment.shop, payment.amount, payment.payer_name, payment.payer_email)
        days = payment.shop.konbini_expires_after_days
        return Plan(ISSUE, payment.amount, 0, _(
            "Issue konbini payment numbers for %(amount)s, payable for %(days)s days; they are e-mailed to the "
            "customer.") % {"amount": yen(payment.amount), "days": days}, context={"days": days})

    def call(self, payment, plan):
        key = plan.context["idempotency_key"]
        result = self.gateway(payment).create_voucher(
            payment.amount, payment.payer_name, payment.payer_email, plan.context["days"],
            product_description=product_description(payment),
            metadata={"payment_id": str(payment.pk), "ledger_key": key, "reference": payment.reference},
            idempotency_key=key)
        record_voucher(payment, result)
        return _result(result)

    def apply(self, payment, plan, at):
        payment.konbini_numbers_issued(at)

    def outcome(self, gateway, payment, op, intent):
        # The sync looked the intent up by this operation's key: none at Stripe means the create never ran,
        # once the event log has had time to show it (settling "not applied" too early could issue twice).
        if intent is not None:
            return True
        return False if op.created_at < timezone.now() - EVENT_LOG_SETTLE else None


def record_voucher(payment: Payment, result: KonbiniPayment) -> None:
    """Keep the intent id and numbers at once, before the status moves: a lost transition can still be settled."""
    fields = {"external_id": result.intent_id, "konbini_numbers": numbers_from(result),
              "payment_deadline": result.expires_at}
    Payment.objects.filter(pk=payment.pk).update(**fields)
    for name, value in fields.items():
        setattr(payment, name, value)


class KonbiniCancel(CancelByState, OpensRefundTask, KonbiniOperationSpec):
    kind = OperationKind.CANCEL
    perm = Perm.CANCEL

    cancellable = KONBINI_CANCELLABLE
    refused = gettext_lazy("This konbini payment is “%(status)s” and cannot be cancelled.")

    def plan(self, payment, now, reason="", retain=0, **kwargs):
        # `retain`: money kept back from the refund (the transfer fee on a customer-reason claim cancel).
        plan = super().plan(payment, now, reason=reason, **kwargs)
        return retained(plan, retain)

    @staticmethod
    def job(payment: Payment) -> tuple[str, int, str]:
        if payment.status in (Status.UNPROCESSED, Status.AWAITING_APPROVAL) and not payment.external_id:
            return NOTHING_AT_STRIPE, 0, _(
                "No konbini payment numbers were issued yet: cancelling has no payment effect.")
        if payment.status in (Status.AWAITING_PAYMENT, Status.EXPIRED):
            return CANCEL_INTENT, 0, _(
                "The konbini payment numbers are cancelled at Stripe: the customer can no longer pay %(amount)s "
                "with them. Tell the customer.") % {"amount": yen(payment.amount)}
        paid = held_after_manual_refunds(payment)
        if payment.shop.konbini_refunds_via_stripe:
            return STRIPE_REFUND, paid, _(
                "Stripe refunds %(amount)s: it e-mails the customer for their bank account and transfers the "
                "money. Do not refund by hand.") % {"amount": yen(paid)}
        return MANUAL_REFUND, paid, _(
            "The customer paid %(amount)s at the store. A konbini payment cannot be given back at Stripe here: "
            "a manual refund task is opened for the money to be returned by hand.") % {"amount": yen(paid)}

    def call(self, payment, plan):
        key = plan.context["idempotency_key"]
        if plan.job == CANCEL_INTENT:
            return _result(self.gateway(payment).cancel(payment.external_id, reason="requested_by_customer",
                                                        idempotency_key=key))
        if plan.job == STRIPE_REFUND:
            refund = self.gateway(payment).refund(payment.external_id, plan.amount, idempotency_key=key,
                                                  metadata={"payment_id": str(payment.pk), "ledger_key": key})
            return TransactionResult(status=refund_word(refund.status), amount=refund.amount,
                                     access_id=refund.refund_id, raw=refund.raw)
        return TransactionResult(status=payment.gateway_status, amount=payment.amount, processed_at=timezone.now())

    def apply(self, payment, plan, at):
        payment.konbini_cancelled(at)

    def outcome(self, gateway, payment, op, intent):
        if op.gateway_job in (NOTHING_AT_STRIPE, MANUAL_REFUND):
            return True  # no call to Stripe: only a crash between the two steps can leave it open
        if intent is None:
            return None
        if op.gateway_job == CANCEL_INTENT:
            if intent.status == "canceled":
                return True
            return False if intent.status in ("requires_action", "succeeded", "requires_payment_method") else None
        return gateway.find_created("refund.created", op.idempotency_key, since_for(op)) is not None


def retained(plan: Plan, retain: int) -> Plan:
    """The cancel plan refunding `retain` yen less (never below ¥0); only a refund of paid money keeps any back."""
    if isinstance(retain, bool) or not isinstance(retain, int) or retain < 0:
        raise InvalidAmount(_("The amount kept back must be a whole number of yen, at least ¥0."))
    if not retain or plan.job not in (MANUAL_REFUND, STRIPE_REFUND) or not plan.amount:
        return plan
    kept = min(retain, plan.amount)
    job = plan.job if plan.amount - kept else MANUAL_REFUND  # never ask Stripe to refund ¥0
    return dataclasses.replace(plan, job=job, amount=plan.amount - kept, explanation=_(
        "%(text)s %(kept)s of it is kept back (the customer's transfer fee): %(amount)s is refunded.") % {
        "text": plan.explanation, "kept": yen(kept), "amount": yen(plan.amount - kept)})


def refund_word(status: str) -> str:
    """The refund's status as the ledger's gateway status (20 characters: "refund_requires_action" is 22)."""
    return {"requires_action": "refund_needs_action"}.get(status, f"refund_{status}")[:20]


KONBINI_SPECS = {OperationKind.ISSUE_NUMBERS: IssueNumbers(), OperationKind.CANCEL: KonbiniCancel()}


def since_for(op) -> int:
    return int((op.created_at - CLOCK_SLACK).timestamp())
