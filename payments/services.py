"""Every write to a payment goes through these functions (admin, API and tasks call nothing else)."""

from __future__ import annotations

import secrets
import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments import card_rules
from payments.actors import Actor
from payments.errors import GatewayDeclined, InvalidTransition
from payments.ledger import execute, lock_payment
from payments.models import Method, OperationKind, OperationState, Payment, PaymentOperation, Status
from payments.operations import SPECS, Plan, validate_amount
from payments.signals import notify_payment_changed
from payments.sync import SyncResult, sync_payment
from shops.models import Shop
from shops.roles import Perm

__all__ = [
    "create_card_payment", "authorize_payment", "capture_payment", "cancel_payment", "change_amount",
    "reauthorize_payment", "expire_authorization", "sync_payment", "SyncResult",
]


def new_gateway_order_id() -> str:
    # ≤27 chars of A-Za-z0-9-; date first so GMO's own screens sort sensibly.
    return f"{timezone.localdate():%y%m%d}-{secrets.token_hex(8)}"


def create_card_payment(shop: Shop, *, amount: int, reference: str = "", payer_name: str = "",
                        payer_email: str = "", actor: Actor) -> Payment:
    actor.require(shop.pk, Perm.VIEW)
    validate_amount(amount)
    return Payment.objects.create(
        shop=shop, method=Method.CARD, amount=amount, gateway_order_id=new_gateway_order_id(),
        reference=reference, payer_name=payer_name, payer_email=payer_email,
    )


def authorize_payment(payment: Payment, *, token: str, by: Actor, idempotency_key: str | None = None):
    return execute(payment, SPECS[OperationKind.AUTHORIZE], by, idempotency_key, token=token)


def capture_payment(payment: Payment, *, by: Actor, idempotency_key: str | None = None):
    try:
        return execute(payment, SPECS[OperationKind.CAPTURE], by, idempotency_key)
    except GatewayDeclined as exc:
        if "E01420010" in exc.gateway_code:
            # The gateway's answer wins: it says the authorization expired, whatever we computed.
            expire_authorization(payment, by=Actor.system("capture refused as expired"), force=True)
        raise


def cancel_payment(payment: Payment, *, by: Actor, idempotency_key: str | None = None):
    return execute(payment, SPECS[OperationKind.CANCEL], by, idempotency_key)


def _routed(kind: str, params: dict) -> tuple[str, dict]:
    # A change that would leave ¥0 is a full cancel (VOID / RETURN / RETURNX), never ChangeTran to 0.
    new_amount = params.get("new_amount")
    if kind == OperationKind.CHANGE_AMOUNT and new_amount == 0 and not isinstance(new_amount, bool):
        return OperationKind.CANCEL, {}
    return kind, params


def preview(payment: Payment, kind: str, **params) -> Plan:
    """What `kind` would do now (the confirm page's money effect), routed exactly as execution is."""
    kind, params = _routed(kind, params)
    return SPECS[kind].plan(payment, timezone.now(), **params)


def change_amount(payment: Payment, *, new_amount: int, job: str | None = None, by: Actor,
                  idempotency_key: str | None = None):
    kind, params = _routed(OperationKind.CHANGE_AMOUNT, {"new_amount": new_amount, "job": job})
    return execute(payment, SPECS[kind], by, idempotency_key, **params)


def reauthorize_payment(payment: Payment, *, job: str = "AUTH", new_amount: int | None = None, by: Actor,
                        idempotency_key: str | None = None):
    return execute(payment, SPECS[OperationKind.REAUTHORIZE], by, idempotency_key,
                   job=job, new_amount=new_amount)


def expire_authorization(payment: Payment, *, by: Actor, force: bool = False) -> PaymentOperation | None:
    """Mark 仮売上期限切れ, but only after the gateway confirms the authorization is still just AUTH.

    `force` is for when the gateway itself refused a capture as expired (E01420010).
    Returns the EXPIRE ledger entry, or None when the gateway's status said otherwise (synced).
    """
    result = sync_payment(payment, actor=by)
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        verdict = card_rules.availability(
            OperationKind.EXPIRE, locked.status, authorized_at=locked.authorized_at,
            validity_days=locked.shop.authorization_validity_days, now=timezone.now())
        if locked.status != Status.AUTHORIZED or result.gateway_status != "AUTH":
            return None
        if not verdict.allowed and not force:
            raise InvalidTransition(verdict.reason)
        if locked.operations.unresolved().exists():
            return None
        now = timezone.now()
        locked.authorization_expired()
        locked.version += 1
        locked.save()
        op = PaymentOperation.objects.create(
            payment=locked, kind=OperationKind.EXPIRE, idempotency_key=f"expire:{uuid.uuid4()}",
            state=OperationState.SUCCEEDED, amount=locked.amount, previous_amount=locked.amount,
            status_before=Status.AUTHORIZED, status_after=locked.status, gateway_status=result.gateway_status,
            explanation=_("The authorization passed its validity; the gateway still holds it as AUTH "
                          "and it can no longer be captured."),
            actor_id=by.user_id, actor_label=by.label, completed_at=now,
        )
        notify_payment_changed(locked, op)
    payment.version = locked.version
    return op
