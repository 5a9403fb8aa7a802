"""Every write to a payment goes through these functions (admin, API and tasks call nothing else)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from payments import wallet_rules
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, GatewayDeclined, InvalidAmount, InvalidTransition
from payments.konbini_operations import check_konbini_payable
from payments.ledger import ensure_current, execute, lock_payment
from payments.models import Method, OperationKind, OperationState, Payment, PaymentOperation, Status
from payments.operations import SPECS, Plan, card_availability, validate_amount
from payments.signals import notify_payment_changed
from payments.specs import spec_for
from payments.sync import SyncResult, sync_payment
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation
from shops.models import Shop
from shops.roles import Perm

__all__ = [
    "create_card_payment", "create_wallet_payment", "authorize_payment", "start_wallet_checkout", "ask_pg_before",
    "capture_payment", "cancel_payment", "change_amount", "record_amount_change", "send_amount_change",
    "extend_authorization", "reauthorize_payment", "expire_authorization", "sync_payment", "SyncResult",
    "create_konbini_payment", "issue_konbini_numbers",
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


def create_wallet_payment(shop: Shop, *, amount: int, method: str = Method.RECRUIT, reference: str = "",
                          payer_name: str = "", payer_email: str = "", actor: Actor) -> Payment:
    actor.require(shop.pk, Perm.VIEW)
    validate_amount(amount)
    if not shop.wallet_checkout_enabled:
        raise InvalidTransition(_("This shop no longer accepts new payments with Recruit easy pay."))
    return Payment.objects.create(
        shop=shop, method=method, amount=amount, gateway_order_id=new_gateway_order_id(),
        reference=reference, payer_name=payer_name, payer_email=payer_email,
    )


def create_konbini_payment(shop: Shop, *, amount: int, reference: str = "", payer_name: str, payer_email: str,
                           actor: Actor, requested: bool = False) -> Payment:
    """A konbini payment with no numbers yet: 承認後にコンビニ支払い番号を発行 (the reservation's), or, for a
    one-off payment request (`requested`), unprocessed until the customer asks for the numbers.

    The amount is checked against konbini's limits here, so a booking that Stripe would refuse is refused
    before anything is written.
    """
    actor.require(shop.pk, Perm.VIEW)
    check_konbini_payable(shop, amount, payer_name, payer_email)
    return Payment.objects.create(
        shop=shop, method=Method.KONBINI, amount=amount, gateway_order_id=new_gateway_order_id(),
        reference=reference, payer_name=payer_name, payer_email=payer_email,
        status=Status.UNPROCESSED if requested else Status.AWAITING_APPROVAL)


def issue_konbini_numbers(payment: Payment, *, by: Actor, idempotency_key: str | None = None):
    """支払い番号の払い出し (Stripe create + confirm); afterwards payment.konbini_numbers holds them."""
    op = execute(payment, spec_for(payment, OperationKind.ISSUE_NUMBERS), by, idempotency_key)
    payment.refresh_from_db()
    return op


def start_wallet_checkout(payment: Payment, *, ret_url: str, by: Actor, idempotency_key: str | None = None):
    """EntryTran + ExecTran; afterwards payment.checkout_url / checkout_token take the buyer to the wallet."""
    op = execute(payment, spec_for(payment, OperationKind.START), by, idempotency_key, ret_url=ret_url)
    payment.refresh_from_db()
    return op


def authorize_payment(payment: Payment, *, token: str, by: Actor, idempotency_key: str | None = None):
    return execute(payment, SPECS[OperationKind.AUTHORIZE], by, idempotency_key, token=token)


def capture_payment(payment: Payment, *, by: Actor, idempotency_key: str | None = None):
    try:
        return execute(payment, spec_for(payment, OperationKind.CAPTURE), by, idempotency_key)
    except GatewayDeclined as exc:
        if not payment.is_wallet and "E01420010" in exc.gateway_code:
            # The gateway's answer wins: it says the authorization expired, whatever we computed.
            expire_authorization(payment, by=Actor.system("capture refused as expired"), force=True)
        raise


def needs_pg_check_before(operation: str, payment: Payment) -> bool:
    """SPEC 3.2: in some wallet states the PG must be asked before `operation` (a WalletOperation)."""
    return payment.is_wallet and wallet_rules.needs_gateway_check_before(operation, payment.status)


def ask_pg_before(operation: str, payment: Payment, *, by: Actor, changed_message: str) -> None:
    """Ask the PG first when `operation` needs it (needs_pg_check_before); the PG may hold more than we know.

    If its answer changes the payment, the caller's view is stale: ChangedMeanwhile(changed_message, with
    %(word)s = the PG's status word and %(status)s = our new status), so the operator looks again and acts
    under that state's rules.
    """
    if not needs_pg_check_before(operation, payment):
        return
    seen = payment.version
    result = sync_payment(payment, actor=by)
    if result.payment.version != seen:
        raise ChangedMeanwhile(changed_message % {"word": result.gateway_status,
                                                  "status": result.payment.get_status_display()})


def check_before_cancel(payment: Payment, *, by: Actor) -> None:
    """SPEC 3.2: before cancelling 要確認 / 売上失敗 ask the PG; it may hold an authorization or a capture."""
    ask_pg_before(WalletOperation.CANCEL, payment, by=by, changed_message=_(
        "The PG shows this payment as %(word)s; it is now “%(status)s”. Check the new status and what a cancel "
        "does now, then cancel again."))


def cancel_payment(payment: Payment, *, by: Actor, idempotency_key: str | None = None, reason: str = "",
                   context: dict | None = None, retain: int = 0):
    """`retain`: yen kept back from a konbini / bank transfer refund (the customer's transfer fee)."""
    check_before_cancel(payment, by=by)
    takes_reason = payment.is_wallet or payment.is_konbini or payment.is_bank_transfer
    params = {"reason": reason} if takes_reason and reason else {}
    if retain and (payment.is_konbini or payment.is_bank_transfer):
        params["retain"] = retain
    return execute(payment, spec_for(payment, OperationKind.CANCEL), by, idempotency_key, context, **params)


def _routed(kind: str, params: dict) -> tuple[str, dict]:
    # A change that would leave ¥0 is a full cancel (VOID / RETURN / RETURNX), never ChangeTran to 0.
    new_amount = params.get("new_amount")
    if kind == OperationKind.CHANGE_AMOUNT and new_amount == 0 and not isinstance(new_amount, bool):
        return OperationKind.CANCEL, {}
    return kind, params


def preview(payment: Payment, kind: str, *, by: Actor | None = None, **params) -> Plan:
    """What `kind` would do now (the confirm page's money effect), routed exactly as execution is.

    A wallet cancel of 要確認 / 売上失敗 asks the PG first (with `by`), so the page shows the real effect.
    """
    kind, params = _routed(kind, params)
    if kind == OperationKind.CANCEL and by is not None and needs_pg_check_before(WalletOperation.CANCEL, payment):
        sync_payment(payment, actor=by)
        payment.refresh_from_db()
    return spec_for(payment, kind).plan(payment, timezone.now(), **params)


def change_amount(payment: Payment, *, new_amount: int, job: str | None = None, by: Actor,
                  idempotency_key: str | None = None, context: dict | None = None):
    kind, params = _routed(OperationKind.CHANGE_AMOUNT, {"new_amount": new_amount, "job": job})
    if kind == OperationKind.CANCEL and payment.is_wallet:
        return cancel_payment(payment, by=by, idempotency_key=idempotency_key)  # asks the PG first when needed
    return execute(payment, spec_for(payment, kind), by, idempotency_key, context, **params)


def record_amount_change(payment: Payment, *, new_amount: int, by: Actor) -> Payment:
    """The order was edited: hold the new amount as unsent until it is sent to the PG (wallet, SPEC 3.2).

    Validated now against the rules that will apply when it is sent (windows, increases, points-only), so
    an edit the PG would refuse is refused here and nothing changes. No gateway call.
    """
    if not payment.is_wallet:
        raise InvalidTransition(_("Only wallet payments hold an unsent amount change; change a card payment's "
                                  "amount directly."))
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        by.require(locked.shop_id, Perm.CHANGE_AMOUNT)
        ensure_current(locked, payment)
        if locked.status not in wallet_rules.AMOUNT_CHANGEABLE:
            # Even an edit that keeps the total: a cancelled or failed order's lines are its record.
            raise InvalidTransition(wallet_rules.availability(
                WalletOperation.CHANGE_AMOUNT, facts_for(locked, timezone.now())).reason)
        if new_amount == locked.amount:
            locked.pending_amount = None  # edited back to what the PG holds: nothing left to send
        else:
            if new_amount == 0:
                raise InvalidAmount(_("An amount of ¥0 is a cancellation, not an amount change: cancel the "
                                      "order instead."))
            validate_amount(new_amount)
            verdict = wallet_rules.availability(WalletOperation.CHANGE_AMOUNT,
                                                facts_for(locked, timezone.now(), new_amount=new_amount))
            if not verdict.allowed:
                raise InvalidTransition(verdict.reason)
            locked.pending_amount = new_amount
        locked.version += 1
        locked.save(update_fields=["pending_amount", "version", "updated_at"])
    payment.pending_amount, payment.version = locked.pending_amount, locked.version
    return locked


def send_amount_change(payment: Payment, *, by: Actor, idempotency_key: str | None = None):
    return execute(payment, spec_for(payment, OperationKind.CHANGE_AMOUNT), by, idempotency_key)


def extend_authorization(payment: Payment, *, by: Actor, idempotency_key: str | None = None):
    return execute(payment, spec_for(payment, OperationKind.EXTEND_AUTHORIZATION), by, idempotency_key)


def reauthorize_payment(payment: Payment, *, job: str = "AUTH", new_amount: int | None = None, by: Actor,
                        idempotency_key: str | None = None):
    return execute(payment, spec_for(payment, OperationKind.REAUTHORIZE), by, idempotency_key,
                   job=job, new_amount=new_amount)


def expire_authorization(payment: Payment, *, by: Actor, force: bool = False) -> PaymentOperation | None:
    """Mark 仮売上期限切れ, but only after the gateway confirms the authorization is still just AUTH.

    `force` is for when the gateway itself refused a capture as expired (E01420010).
    Returns the EXPIRE ledger entry, or None when the gateway's status said otherwise (synced).
    """
    result = sync_payment(payment, actor=by)
    if payment.is_wallet:
        # The PG has its own word for it (EXPIRED); the sync above already applied whatever it says.
        return None
    with transaction.atomic():
        locked = lock_payment(payment.pk)
        verdict = card_availability(OperationKind.EXPIRE, locked, timezone.now())
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


def recompute_authorization_expiry(shop: Shop) -> int:
    """After the shop's card validity setting changed: re-derive the stored expiry of its live card
    authorizations (wallet authorizations follow the PG's own period). One UPDATE, however many rows."""
    return Payment.objects.filter(shop=shop, method=Method.CARD, status=Status.AUTHORIZED,
                                  authorized_at__isnull=False).update(
        authorization_expires_at=F("authorized_at") + timedelta(days=shop.authorization_validity_days))


from payments.bank_transfer import create_bank_transfer_payment, mark_transfer_received  # noqa: E402

__all__ += ["create_bank_transfer_payment", "mark_transfer_received"]
