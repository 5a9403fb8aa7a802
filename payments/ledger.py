"""The engine every money operation runs through (SPEC 7, "ledger first").

1. In one transaction holding the payment's row lock: check permission, version, that no other
   operation is unresolved, validate into a plan, and write the operation `pending` with its
   idempotency key.
2. Call the gateway outside any transaction.
3. In a second transaction (payment lock, then operation lock: always that order): complete the
   operation and apply the FSM transition; or record the refusal; or mark the outcome `unknown`.

A crash between 1 and 3 leaves the operation `pending`; the sync resolver settles it from the
gateway's own status once it is older than PENDING_OPERATION_STALE_SECONDS.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from gateways.base import GatewayNotSent, GatewayOutcomeUnknown, GatewayRefused, TransactionResult
from gateways.gmo.messages import describe
from payments.actors import Actor
from payments.errors import (
    ChangedMeanwhile,
    GatewayDeclined,
    GatewayUnavailable,
    IdempotencyConflict,
    OutcomeUnknown,
    PaymentBusy,
)
from payments.models import OperationState, Payment, PaymentOperation
from payments.operations import CardOperation, Plan
from payments.signals import notify_payment_changed

logger = logging.getLogger(__name__)
# Never kept in the ledger: transaction passwords, the wallet's one-time browser token and a PaymentIntent's
# client secret (it lets a browser confirm the intent).
SECRET_KEYS = ("AccessPass", "CheckString", "Token", "client_secret")


def without_secrets(raw: dict) -> dict:
    return {k: v for k, v in raw.items() if k not in SECRET_KEYS}


def lock_payment(pk: int) -> Payment:
    # of=("self",): lock the payment row only; locking the joined shop row would serialize a whole shop.
    return Payment.objects.select_for_update(of=("self",)).select_related("shop").get(pk=pk)


def ensure_current(locked: Payment, seen: Payment) -> None:
    """The caller acts on `seen`; refuse when the locked row moved on since, or an operation is unresolved.

    A stale view is the more useful answer than "busy": the operator must look again first.
    """
    if locked.version != seen.version:
        raise ChangedMeanwhile()
    if locked.operations.unresolved().exists():
        raise PaymentBusy()


def plan_of(op: PaymentOperation) -> Plan:
    return Plan(op.gateway_job, op.amount, op.previous_amount, op.explanation)


def _replay(key: str, payment: Payment, kind: str) -> PaymentOperation | None:
    existing = PaymentOperation.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    if existing.payment_id != payment.pk or existing.kind != kind:
        raise IdempotencyConflict()
    return existing


def begin(payment: Payment, spec: CardOperation, actor: Actor, key: str | None, context: dict | None = None,
          **kwargs) -> tuple[PaymentOperation, Plan, bool]:
    """Step 1. Returns (operation, plan, is_new)."""
    key = key or f"{spec.kind}:{uuid.uuid4()}"
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        actor.require(locked.shop_id, spec.perm)
        replay = _replay(key, locked, spec.kind)
        if replay is not None:
            return replay, plan_of(replay), False
        ensure_current(locked, payment)
        plan = spec.plan(locked, timezone.now(), **kwargs)
        try:
            with transaction.atomic():
                op = PaymentOperation.objects.create(
                    payment=locked, kind=spec.kind, idempotency_key=key, gateway_job=plan.job,
                    amount=plan.amount, previous_amount=plan.previous_amount, explanation=plan.explanation,
                    status_before=locked.status, actor_id=actor.user_id, actor_label=actor.label,
                    context=context or {},
                )
        except IntegrityError as exc:  # the same key raced in for another payment
            raise IdempotencyConflict() from exc
        locked.version += 1
        locked.save(update_fields=["version", "updated_at"])
    payment.version = locked.version
    # The gateway call may carry our key (Stripe's Idempotency-Key), so a retry can never act twice.
    return op, dataclasses.replace(plan, context={**plan.context, "idempotency_key": key}), True


def execute(payment: Payment, spec: CardOperation, actor: Actor, key: str | None = None,
            context: dict | None = None, **kwargs) -> PaymentOperation:
    op, plan, is_new = begin(payment, spec, actor, key, context, **kwargs)
    if not is_new:
        if op.state == OperationState.PENDING:
            raise PaymentBusy(operation=op)  # the same request is still in flight
        return _raise_for(op)
    try:
        result = spec.call(payment, plan)
    except GatewayRefused as exc:
        return _raise_for(_complete_refused(payment, spec, op, plan, exc))
    except GatewayNotSent as exc:
        logger.warning("operation %s not sent: %s", op.pk, exc)
        # Nothing reached the gateway, so the key is freed: a retry with it sends, instead of being answered
        # "unavailable" from this record forever.
        spent_key = f"{op.idempotency_key[:150]}:not-sent:{op.pk}"
        return _raise_for(_finish(op, OperationState.FAILED, error_message=str(GatewayUnavailable()),
                                  idempotency_key=spent_key))
    except GatewayOutcomeUnknown as exc:
        logger.warning("operation %s outcome unknown: %s", op.pk, exc)
        return _raise_for(_finish(op, OperationState.UNKNOWN, error_message=str(exc)))
    # A status check may have settled the operation meanwhile (e.g. as not applied): answer what the ledger says.
    return _raise_for(_complete_succeeded(payment, spec, op, plan, result))


def _complete_succeeded(payment, spec, op, plan, result: TransactionResult) -> PaymentOperation:
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        op = PaymentOperation.objects.select_for_update().get(pk=op.pk)
        if op.state != OperationState.PENDING:
            return op  # a status check settled it meanwhile
        spec.apply(locked, plan, result.processed_at or timezone.now())
        locked.gateway_status = result.status
        locked.version += 1
        locked.save()
        op.state = OperationState.SUCCEEDED
        op.status_after = locked.status
        op.gateway_status = result.status
        op.response = without_secrets(result.raw)
        op.completed_at = timezone.now()
        op.save()
        spec.recorded(locked, plan, op)
        notify_payment_changed(locked, op)
    payment.version = locked.version
    return op


def _complete_refused(payment, spec, op, plan, exc: GatewayRefused) -> PaymentOperation:
    message = " / ".join(f"{e.info}: {describe(e.info)}" for e in exc.errors)
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        op = PaymentOperation.objects.select_for_update().get(pk=op.pk)
        if op.state != OperationState.PENDING:
            return op
        if spec.on_refused(locked, plan, exc):
            locked.version += 1
            locked.save()
            notify_payment_changed(locked, op)
        op.state = OperationState.FAILED
        op.status_after = locked.status
        op.error_code = exc.codes
        op.error_message = message
        op.completed_at = timezone.now()
        op.save()
    payment.version = locked.version
    return op


def _finish(op: PaymentOperation, state: str, **fields) -> PaymentOperation:
    with transaction.atomic():
        op = PaymentOperation.objects.select_for_update().get(pk=op.pk)
        if op.state != OperationState.PENDING:
            return op
        op.state = state
        op.status_after = op.status_before
        for name, value in fields.items():
            setattr(op, name, value)
        if state != OperationState.UNKNOWN:
            op.completed_at = timezone.now()
        op.save()
    return op


def replay_answer(op: PaymentOperation) -> PaymentOperation:
    """What a request that already made `op` (same idempotency key) is answered now, from the ledger."""
    return _raise_for(op)


def _raise_for(op: PaymentOperation) -> PaymentOperation:
    """Turn a finished operation into the caller's answer: the operation, or the matching error."""
    if op.state == OperationState.SUCCEEDED:
        return op
    if op.state in (OperationState.UNKNOWN, OperationState.PENDING):
        raise OutcomeUnknown(operation=op)
    if op.error_code:
        raise GatewayDeclined(op.error_message, gateway_code=op.error_code, operation=op)
    raise GatewayUnavailable(op.error_message or None, operation=op)
