"""Align a konbini payment with what Stripe says (retrieve), never by guessing (SPEC 3.3, 7).

Used by the webhook task, the konbini poll and the admin's status check. Order-safe by construction: an
event only says WHICH payment to look at; the PaymentIntent is read fresh and applied forward only
(paid and cancelled are never undone, expired never comes back to awaiting payment). So a late
``payment_failed`` after ``succeeded``, or 200 copies of one event, change nothing more.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from gateways.base import TransactionNotFound
from gateways.stripe.konbini import KonbiniPayment
from payments.actors import Actor
from payments.gateway_factory import konbini_gateway_for
from payments.konbini_operations import record_voucher, since_for
from payments.ledger import lock_payment
from payments.models import OperationKind, Payment, PaymentOperation, Status
from payments.specs import spec_for
from payments.sync import SyncResult, failing_check, open_check, record_answer, resolvable, settle_operation
from shops.roles import Perm

# Stripe's PaymentIntent status -> ours. requires_payment_method is "expired" only with the failed attempt
# recorded (last_payment_error): before confirmation it is simply "nothing issued yet".
FORWARD = {
    Status.UNPROCESSED: 0, Status.AWAITING_APPROVAL: 0, Status.AWAITING_PAYMENT: 1, Status.EXPIRED: 2,
    Status.PAID: 3, Status.CANCELLED: 3,
}


def stripe_word(intent: KonbiniPayment | None) -> str:
    return intent.status if intent else "not_found"


def theirs(intent: KonbiniPayment) -> str | None:
    product = intent.product_status
    return None if product == "awaiting_approval" else product


def sync_konbini(payment: Payment, *, actor: Actor) -> SyncResult:
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        actor.require(locked.shop_id, Perm.VIEW)
        check = open_check(locked, actor, "retrieve")
        seen_version = locked.version
        open_ops = list(locked.operations.unresolved().order_by("created_at", "id"))
    gateway = konbini_gateway_for(locked.shop)
    with failing_check(check):
        intent, verdicts = _ask_stripe(gateway, locked, open_ops)
    return _apply(payment, check, intent, verdicts, seen_version)


def _ask_stripe(gateway, payment: Payment, open_ops) -> tuple[KonbiniPayment | None, dict[int, bool | None]]:
    intent_id = payment.external_id
    if not intent_id:
        # A create whose answer was lost: Stripe's event log says whether it ran (found by our ledger key).
        issue = next((op for op in open_ops if op.kind == OperationKind.ISSUE_NUMBERS), None)
        if issue is not None:
            created = gateway.find_created("payment_intent.created", issue.idempotency_key, since_for(issue))
            intent_id = created["id"] if created else ""
    intent = None
    if intent_id:
        try:
            intent = gateway.retrieve(intent_id)
        except TransactionNotFound:
            intent = None
    if intent is not None and not payment.external_id:
        record_voucher(payment, intent)
    verdicts = {op.pk: spec_for(payment, op.kind).outcome(gateway, payment, op, intent) for op in open_ops}
    return intent, verdicts


def _apply(payment: Payment, check: PaymentOperation, intent: KonbiniPayment | None,
           verdicts: dict[int, bool | None], seen_version: int) -> SyncResult:
    now = timezone.now()
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        check = PaymentOperation.objects.select_for_update().get(pk=check.pk)
        result = SyncResult(payment=locked, gateway_status=stripe_word(intent))
        if locked.version != seen_version:
            # Something moved the payment while Stripe was asked; this answer may predate it. Ask again later.
            result.in_flight = True
            check.resolution = "the payment changed while Stripe was asked; this answer was not applied"
            # This check moved nothing: its row must not read as the transition another operation made.
            check.status_before = locked.status
        else:
            ops, result.in_flight = resolvable(locked)
            said = f"Stripe: {stripe_word(intent)}"
            for op in ops:
                settle_operation(locked, op, verdicts.get(op.pk), where="Stripe", said=said, at=now, now=now,
                                 gateway_status=stripe_word(intent)[:20], result=result)
            if not result.in_flight and intent is not None:
                _align(locked, intent, now, result)
            check.resolution = "\n".join(result.resolved + result.corrections + result.discrepancies)
        record_answer(locked, check, result, now, intent.raw if intent else {})
    payment.version = locked.version
    return result


def _align(payment: Payment, intent: KonbiniPayment, now, result: SyncResult) -> None:
    target, ours = theirs(intent), payment.status
    if target is None or target == ours:
        return
    if FORWARD.get(target, -1) <= FORWARD.get(ours, -1) and not (ours == Status.EXPIRED and target == Status.PAID):
        # Never backwards: a stale or reordered answer cannot undo paid, cancelled (ranked last) or expired.
        if ours in (Status.PAID, Status.CANCELLED):
            result.discrepancies.append(f"Stripe says {intent.status}, ours is {ours}; left as is")
        return
    if ours in (Status.UNPROCESSED, Status.AWAITING_APPROVAL):
        payment.konbini_numbers_issued(now)  # numbers exist at Stripe (a settled create), then move on
        if target == Status.AWAITING_PAYMENT:
            result.corrections.append(f"status {ours} → {payment.status} (Stripe says {intent.status})")
            return
    step = {Status.PAID: lambda: payment.konbini_paid(now), Status.EXPIRED: payment.konbini_expired,
            Status.CANCELLED: lambda: payment.konbini_cancelled(now)}[target]
    step()
    result.corrections.append(f"status {ours} → {payment.status} (Stripe says {intent.status})")
