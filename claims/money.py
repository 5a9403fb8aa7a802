"""The money side of a claim (SPEC 4.4): the whole order is refunded under its payment method's rules.

Card: linked (VOID / RETURN / RETURNX at GMO). Recruit: linked inside the PG's window, else a manual refund
task. Konbini / bank transfer: a manual refund task. The customer's transfer fee (振込手数料 = order.fees on a
konbini / bank transfer order) is refunded on a seller-fault reason and kept back on a customer reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from claims.models import SELLER_FAULT, Claim, RefundState
from orders.cancellation import GONE, cancel_order, preview_cancel_order
from orders.models import Order
from payments import services as payment_services
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.formatting import yen
from payments.models import OperationKind, OperationState, PaymentOperation
from payments.operations import MANUAL_REFUND, Plan

# The job of every method's "nothing paid or held" cancel (konbini before numbers, bank before the transfer…);
# other jobs without money (konbini numbers cancelled) carry the amount 0.
NO_MONEY_JOBS = ("NONE",)


@dataclass(frozen=True)
class MoneyEffect:
    text: str  # the operator-facing money sentence for the confirm page
    amount: int  # what goes back to the customer (linked or by hand)
    fee_refund: int  # of which the transfer fee refunded (0 when kept back or there is none)
    linked: bool  # executed at the gateway (no manual refund task)


def transfer_fee(order: Order) -> int:
    """The customer's transfer fee: the order's fees, on a konbini / bank transfer order only."""
    payment = order.payment
    if payment is None or not (payment.is_konbini or payment.is_bank_transfer):
        return 0
    return order.fees


def fee_kept_back(order: Order, reason: str) -> int:
    """Yen kept back from the refund: the transfer fee on a customer reason, nothing on a seller-fault one."""
    return 0 if reason in SELLER_FAULT else transfer_fee(order)


def _single_order(order: Order) -> bool:
    return not order.payment.orders.exclude(pk=order.pk).exclude(fulfilment_status__in=GONE).exists()


def _plan(order: Order, reason: str, by: Actor) -> Plan:
    if order.payment is None:
        raise InvalidTransition(_("This order has no payment."))
    if order.fulfilment_status in GONE:
        raise InvalidTransition(_("This order is already cancelled."))
    retain = fee_kept_back(order, reason)
    if retain and _single_order(order):
        return payment_services.preview(order.payment, OperationKind.CANCEL, by=by, retain=retain)
    return preview_cancel_order(order, by=by)


def _pays_back(plan: Plan) -> bool:
    return bool(plan.amount) and plan.job not in NO_MONEY_JOBS and plan.previous_amount > 0


def effect(order: Order, *, reason: str, by: Actor | None = None) -> MoneyEffect:
    """What cancelling (or refunding the return of) the whole order does with the money now."""
    plan = _plan(order, reason, by or Actor.system("claim preview"))
    fee = transfer_fee(order)
    pays_back = _pays_back(plan)
    fee_refund = fee if pays_back and fee and reason in SELLER_FAULT else 0
    linked = plan.job != MANUAL_REFUND
    text = plan.explanation
    if pays_back and fee:
        text = f"{text} " + (_("The transfer fee of %(fee)s is refunded too (the seller's reason).") if fee_refund
                             else _("The transfer fee of %(fee)s is kept back (the customer's reason).")) % {
            "fee": yen(fee)}
    return MoneyEffect(text=text, amount=plan.amount if pays_back else 0, fee_refund=fee_refund, linked=linked)


def refund(order: Order, claim: Claim, *, by: Actor, idempotency_key: str | None = None) -> PaymentOperation:
    """Cancel the whole order's money for `claim` (the payment's lock is taken inside, by the ledger).

    The operation carries the claim in its context, so a lost answer that the status sync settles later still
    finishes the claim (claims.receivers).
    """
    retain = fee_kept_back(order, claim.reason)
    if _single_order(order):
        return payment_services.cancel_payment(order.payment, by=by, idempotency_key=idempotency_key,
                                               context={CLAIM: claim.pk}, retain=retain,
                                               reason=claim.get_reason_display())
    return cancel_order(order, by=by, idempotency_key=idempotency_key)


CLAIM = "claim"


def record_outcome(claim: Claim, op: PaymentOperation) -> None:
    """Write the operation's money outcome on the (locked) claim; the caller saves it."""
    from refunds.models import RefundTask  # refunds builds on payments

    claim.refund_operation = op
    if op.state != OperationState.SUCCEEDED:
        claim.refund_state = RefundState.PENDING
        return
    paid_back = op.amount if op.gateway_job not in NO_MONEY_JOBS and op.previous_amount else 0
    claim.refund_amount = paid_back
    claim.refund_linked = bool(paid_back) and op.gateway_job != MANUAL_REFUND
    fee = transfer_fee(claim.order)
    claim.fee_refund_amount = fee if paid_back and claim.reason in SELLER_FAULT else 0
    if op.gateway_job == MANUAL_REFUND and paid_back:
        claim.refund_task = (RefundTask.objects.filter(payment_id=op.payment_id, created_at__gte=op.created_at)
                             .order_by("-id").first())
        claim.refund_state = RefundState.PENDING  # done when the task is refunded by hand
    elif not paid_back:
        claim.refund_state = RefundState.NONE
    elif fee and claim.fee_refund_amount == 0:
        claim.refund_state = RefundState.PARTIAL  # the transfer fee was kept back
    else:
        claim.refund_state = RefundState.DONE
