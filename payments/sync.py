"""Resolve what we do not know from what the gateway says (SearchTrade), never by calling again.

Used by the API's `sync`, the admin's status check and the status-sync batch. It never moves money:
it settles operations whose answer was lost, aligns the status with the gateway's, and reports what
it cannot explain (an amount no operation accounts for) instead of guessing.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from gateways.base import (
    GatewayNotSent,
    GatewayOutcomeUnknown,
    GatewayRefused,
    TransactionNotFound,
    TransactionResult,
)
from payments.actors import Actor
from payments.errors import GatewayDeclined, GatewayUnavailable
from payments.formatting import yen
from payments.gateway_factory import gateway_for
from payments.ledger import lock_payment, plan_of, without_secrets
from payments.models import (
    GMO_CARD_STATUS,
    LIVE_CAPTURED,
    OperationKind,
    OperationState,
    Payment,
    PaymentOperation,
    Status,
)
from payments.operations import MANUAL_REFUND
from payments.signals import notify_payment_changed
from payments.specs import spec_for
from payments.wallet_rules import gmo_status_to_wallet_status
from shops.roles import Perm


@dataclass
class SyncResult:
    payment: Payment
    gateway_status: str = ""
    resolved: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    in_flight: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.resolved or self.corrections)


def resolvable(payment: Payment):
    stale_before = timezone.now() - timedelta(seconds=settings.PENDING_OPERATION_STALE_SECONDS)
    ops = list(payment.operations.unresolved().select_for_update().order_by("created_at", "id"))
    # A young pending operation may still be waiting for its answer in another process.
    in_flight = [op for op in ops if op.state == OperationState.PENDING and op.created_at > stale_before]
    return [op for op in ops if op not in in_flight], bool(in_flight)


def sync_payment(payment: Payment, *, actor: Actor, buyer_returned: bool = False) -> SyncResult:
    """`buyer_returned`: the buyer's browser came back from the wallet page (RetURL), so a transaction the
    PG still shows as unfinished was left there (要確認) rather than being in progress."""
    if payment.is_konbini:
        from payments.konbini_sync import sync_konbini  # Stripe's word instead of SearchTrade

        return sync_konbini(payment, actor=actor)
    if payment.is_bank_transfer:
        from payments.bank_transfer import sync_bank_transfer  # no gateway to ask

        return sync_bank_transfer(payment, actor=actor)
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        actor.require(locked.shop_id, Perm.VIEW)
        check = open_check(locked, actor, "SearchTrade")
        seen_version = locked.version
    with failing_check(check):
        try:
            trade = gateway_for(locked).search(locked.gateway_order_id)
        except TransactionNotFound:
            trade = None
    return _apply_trade(payment, check, trade, buyer_returned, seen_version)


def open_check(locked: Payment, actor: Actor, job: str) -> PaymentOperation:
    """The ledger row of a status check (never blocks other operations; see OperationQuerySet.unresolved)."""
    return PaymentOperation.objects.create(
        payment=locked, kind=OperationKind.SYNC, idempotency_key=f"sync:{uuid.uuid4()}", gateway_job=job,
        amount=locked.amount, previous_amount=locked.amount, status_before=locked.status,
        actor_id=actor.user_id, actor_label=actor.label)


@contextmanager
def failing_check(check: PaymentOperation):
    """Record a check the gateway refused or could not answer, and raise the caller's error for it."""
    try:
        yield
    except GatewayRefused as exc:
        _fail_check(check, exc.codes)
        raise GatewayDeclined(str(exc), gateway_code=exc.codes, operation=check) from exc
    except (GatewayNotSent, GatewayOutcomeUnknown) as exc:
        _fail_check(check, "", str(exc))
        raise GatewayUnavailable(operation=check) from exc


def _fail_check(check: PaymentOperation, code: str, message: str = "") -> None:
    check.state = OperationState.FAILED
    check.error_code = code
    check.error_message = message
    check.completed_at = timezone.now()
    check.save()


def _apply_trade(payment: Payment, check: PaymentOperation, trade: TransactionResult | None,
                 buyer_returned: bool = False, seen_version: int | None = None) -> SyncResult:
    now = timezone.now()
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        check = PaymentOperation.objects.select_for_update().get(pk=check.pk)
        result = SyncResult(payment=locked, gateway_status=trade.status if trade else "NOT_FOUND")
        if seen_version is not None and locked.version != seen_version:
            # An operation moved the payment while the PG was being asked: its answer may predate that
            # operation (e.g. SALES read just before a cancel completed). Applying it would undo the
            # operation; the next check asks again, so the payment is not marked as checked either.
            result.in_flight = True
            # This check moved nothing: its row must not read as the transition another operation made.
            check.status_before = locked.status
            check.resolution = "the payment changed while the PG was asked; this answer was not applied"
            close_check(check, locked, result, now, {})
            payment.version = locked.version
            return result
        ops, result.in_flight = resolvable(locked)
        for op in ops:
            _resolve(locked, op, trade, now, result)
        if not result.in_flight and not result.discrepancies:
            _align_status(locked, trade, now, result, buyer_returned)
        _check_amount(locked, trade, result)
        check.resolution = "\n".join(result.resolved + result.corrections + result.discrepancies)
        record_answer(locked, check, result, now, trade.raw if trade else {})
    payment.version = locked.version
    return result


def record_answer(locked: Payment, check: PaymentOperation, result: SyncResult, now, response: dict) -> None:
    """Store the gateway's answer on the payment and complete the check; business apps hear of any change."""
    before = check.status_before
    locked.gateway_status = result.gateway_status[:20]
    locked.last_synced_at = now
    if result.changed:
        locked.version += 1
    locked.save()
    close_check(check, locked, result, now, response)
    if result.changed or before != locked.status:
        notify_payment_changed(locked, check)


def close_check(check: PaymentOperation, locked: Payment, result: SyncResult, now, response: dict) -> None:
    check.state = OperationState.SUCCEEDED
    check.gateway_status = result.gateway_status[:20]
    check.status_after = locked.status
    check.response = without_secrets(response)
    check.completed_at = now
    check.save()


def _resolve(payment: Payment, op: PaymentOperation, trade, now, result: SyncResult) -> None:
    verdict = spec_for(payment, op.kind).outcome_from_trade(payment, plan_of(op), trade)
    said = f"SearchTrade Status={trade.status} Amount={trade.amount}" if trade else "SearchTrade: not found"
    settle_operation(payment, op, verdict, where="the gateway", said=said,
                     at=(trade.processed_at if trade else None) or now, now=now,
                     gateway_status=trade.status if trade else "", result=result)


def settle_operation(payment: Payment, op: PaymentOperation, verdict: bool | None, *, where: str, said: str, at,
                     now, gateway_status: str, result: SyncResult) -> None:
    """Settle an unresolved operation by the gateway's verdict (None: cannot tell, left unresolved)."""
    if verdict is None:
        result.discrepancies.append(
            f"#{op.pk} {op.kind} {op.gateway_job}: cannot tell from {where} ({said}); left unresolved")
        return
    spec = spec_for(payment, op.kind)
    plan = plan_of(op)
    if verdict:
        try:
            spec.apply(payment, plan, at)
        except TransitionNotAllowed:
            pass  # our status moved on meanwhile; aligning with the gateway's status settles it
        op.state = OperationState.SUCCEEDED
        op.resolution = f"applied at {where} ({said})"
        spec.recorded(payment, plan, op)
        notify_payment_changed(payment, op)  # business apps finish their side of this very operation
    else:
        if op.kind == OperationKind.AUTHORIZE and payment.status == Status.UNPROCESSED:
            payment.authorization_refused()
        op.state = OperationState.FAILED
        op.resolution = f"not applied at {where} ({said})"
    op.status_after = payment.status
    op.gateway_status = gateway_status
    op.completed_at = now
    op.save()
    result.resolved.append(f"#{op.pk} {op.kind} {op.gateway_job}: {op.resolution}")


def _align_status(payment: Payment, trade, now, result: SyncResult, buyer_returned: bool = False) -> None:
    if trade is None:
        return
    if payment.is_wallet:
        _align_wallet_status(payment, trade, now, result, buyer_returned)
        return
    theirs = GMO_CARD_STATUS.get(trade.status)
    ours = payment.status
    if theirs is None or theirs == ours:
        return
    # The gateway has no "expired" word (it still says AUTH) and keeps UNPROCESSED after a decline.
    if (ours, theirs) in ((Status.AUTH_EXPIRED, Status.AUTHORIZED), (Status.FAILED, Status.UNPROCESSED)):
        return
    payment.corrected_from_gateway(theirs, trade.processed_at or now)
    result.corrections.append(f"status {ours} → {theirs} (the gateway says {trade.status})")


# Wallet states in which the PG holds nothing: our own 注文キャンセル stands against them.
_WALLET_NOTHING_LIVE = (Status.NEEDS_CONFIRMATION, Status.PAYMENT_FAILED, Status.AUTH_EXPIRED)


def _align_wallet_status(payment: Payment, trade, now, result: SyncResult, buyer_returned: bool) -> None:
    points = trade.raw.get("RcUsePoint", "")
    if points.isdigit():
        payment.wallet_points_used = int(points)
    try:
        theirs = gmo_status_to_wallet_status(trade.status)
    except ValueError:
        result.discrepancies.append(f"the PG answered an unknown status word {trade.status!r}; left as is")
        return
    ours = payment.status
    if theirs == ours:
        return
    if ours == Status.CANCELLED and theirs in _WALLET_NOTHING_LIVE:
        return
    if ours == Status.CANCELLED and theirs == Status.CAPTURED and _cancelled_with_manual_refund(payment):
        # A capture past the PG's cancel period was cancelled here with a manual refund task: the PG keeps
        # saying SALES for good, and that is explained, not a reason to make the order 決済完了 again.
        return
    if ours == Status.UNPROCESSED and theirs == Status.NEEDS_CONFIRMATION:
        # The buyer may still be on the wallet's page; only a checkout left alone for long is 要確認.
        abandoned_before = now - timedelta(seconds=settings.WALLET_ABANDONED_AFTER_SECONDS)
        if payment.created_at > abandoned_before and not buyer_returned:
            return
        payment.checkout_abandoned()
        result.corrections.append(f"status {ours} → {theirs} (the buyer did not finish the wallet page; "
                                  f"the PG says {trade.status})")
        return
    payment.corrected_from_gateway(theirs, trade.processed_at or now)
    result.corrections.append(f"status {ours} → {theirs} (the PG says {trade.status})")


def _cancelled_with_manual_refund(payment: Payment) -> bool:
    last = payment.operations.filter(kind=OperationKind.CANCEL, state=OperationState.SUCCEEDED).order_by("-id").first()
    return last is not None and last.gateway_job == MANUAL_REFUND


def _check_amount(payment: Payment, trade, result: SyncResult) -> None:
    live = (Status.AUTHORIZED, Status.AUTH_EXPIRED, *LIVE_CAPTURED)
    if trade is None or payment.status not in live or trade.status not in ("AUTH", "SALES", "CAPTURE"):
        return
    if trade.amount != payment.amount:
        result.discrepancies.append(
            f"amount: ours {yen(payment.amount)}, the gateway's {yen(trade.amount)}; no operation explains it")
