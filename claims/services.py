"""Claims (SPEC 4.4, seed 003): every write to a claim, an order's delivery state or a customer message.

Admin views and the customer API call only these. Each takes `by: Actor`, raises a PaymentError subclass
with a clear .message, and changes nothing on refusal.

Locking: the order row first (select_for_update), then the claim is written; the payment's lock comes later,
inside the ledger, when the money moves. The money call runs after the claim's transaction has committed, so
the ledger's own records (written before and after the gateway call) never roll back with ours; the open
claim meanwhile keeps any other claim off the order (one_open_claim_per_order → "changed meanwhile").
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from claims.models import (
    OPEN_STATES,
    REASONS,
    Claim,
    ClaimEvent,
    ClaimKind,
    ClaimState,
    CustomerMessage,
    MessageCategory,
    MessageStatus,
    Party,
    Reason,
    RefundState,
)
from claims.money import MoneyEffect, effect, record_outcome
from claims.money import refund as refund_money
from orders import delivery
from orders.cancellation import GONE
from orders.models import Delivery, Order, OrderEvent
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, InvalidTransition, PaymentError
from payments.models import OperationState, PaymentOperation
from shops.roles import Perm

__all__ = [
    "set_ship_date", "mark_delayed", "message_customer", "resend_message", "cancel_effect", "seller_cancel",
    "open_return", "confirm_return", "customer_cancel", "approve_cancel_request", "ask_withdrawal",
    "withdraw_request", "refuse_cancel_request", "customer_actor", "MoneyEffect",
]

SELLER_CANCEL_FROM = (Delivery.NEW, Delivery.PREPARING, Delivery.DELAYED)
CUSTOMER_CANCEL_ALONE = (Delivery.AWAITING_PAYMENT, Delivery.NEW, Delivery.DELAYED)
RETURN_FROM = (Delivery.SHIPPING, Delivery.DELIVERED)
ANSWERABLE = (ClaimState.REQUESTED, ClaimState.WITHDRAWAL_REQUESTED)
MEMO_MAX = 2000
TITLE_MAX = 200
BODY_MAX = 5000


class InvalidClaim(PaymentError):
    code = "invalid_claim"
    http_status = 400


def customer_actor(order: Order, via: str = "") -> Actor:
    """The customer acting on their own order (customer page, or the shop's site through the API `via` its
    token): may view and cancel in this shop only."""
    label = _("customer: %(name)s") % {"name": order.customer_name or order.customer_email}
    return Actor(label=f"{label} ({via})" if via else label, shop_id=order.shop_id,
                 perms=frozenset({Perm.VIEW, Perm.CANCEL}))


# --- small helpers --------------------------------------------------------------------------------------------

def _lock_order(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("payment").get(pk=order.pk)


def _lock_claim(claim: Claim) -> tuple[Order, Claim]:
    # The fixed order: the order row, then its claim.
    locked_order = _lock_order(claim.order)
    return locked_order, Claim.objects.select_for_update().get(pk=claim.pk)


def _event(claim: Claim, by: Actor, message: str) -> None:
    ClaimEvent.objects.create(claim=claim, actor_id=by.user_id, actor_label=by.label, message=message)


def _order_event(order: Order, by: Actor, message: str) -> None:
    OrderEvent.objects.create(order=order, actor_id=by.user_id, actor_label=by.label, message=message)


def _memo(value, *, required: bool = False, what: str = "") -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidClaim(_("Write %(what)s: the customer reads it.") % {"what": what or _("a seller memo")})
    if len(value) > MEMO_MAX:
        raise InvalidClaim(_("The memo is %(length)s characters long; keep it to %(max)s.")
                           % {"length": len(value), "max": MEMO_MAX})
    return value


def _check_reason(kind: str, party: str, reason: str) -> None:
    allowed = REASONS.get((kind, party), ())
    if reason not in allowed:
        names = ", ".join(str(Reason(r).label) for r in allowed) or "—"
        raise InvalidClaim(_("“%(reason)s” is not a reason the %(party)s may give for a %(kind)s. Choose one of: "
                             "%(names)s.") % {"reason": reason, "party": Party(party).label.lower(),
                                              "kind": ClaimKind(kind).label.lower(), "names": names})


def _open_claim(order: Order) -> Claim | None:
    return order.claims.filter(state__in=OPEN_STATES).first()


def _no_open_claim(order: Order) -> None:
    found = _open_claim(order)
    if found is not None:
        raise ChangedMeanwhile(_("This order already has an open claim (%(claim)s). Reload it and answer that "
                                 "claim first.") % {"claim": f"{found.get_kind_display()}: "
                                                              f"{found.get_state_display()}"})


def _create_claim(order: Order, **fields) -> Claim:
    try:
        with transaction.atomic():
            return Claim.objects.create(shop_id=order.shop_id, order=order, **fields)
    except IntegrityError as exc:  # another operator's claim got in first (one open claim per order)
        raise ChangedMeanwhile(_("Someone else opened a claim on this order meanwhile. Reload it and check "
                                 "before trying again.")) from exc


def _check_delivery(order: Order, allowed: tuple, refused: str) -> None:
    # The fulfilment status follows the payment after the commit; a finished cancel / return claim says it at once.
    if order.fulfilment_status in GONE or order.claims.filter(
            kind__in=(ClaimKind.CANCEL, ClaimKind.RETURN), state=ClaimState.DONE).exists():
        raise InvalidTransition(_("This order is already cancelled."))
    if order.delivery_status not in allowed:
        raise InvalidTransition(refused % {"status": order.get_delivery_status_display()})


def _require_sent_message(order: Order) -> None:
    """Seed 003: a seller-side cancel needs a message to the customer first, written after any earlier claim."""
    messages = order.customer_messages.filter(category=MessageCategory.CANCEL_REFUND)
    last_claim = order.claims.order_by("-created_at").values_list("created_at", flat=True).first()
    if last_claim is not None:
        messages = messages.filter(created_at__gt=last_claim)
    if messages.filter(status=MessageStatus.SENT).exists():
        return
    failed = messages.filter(status=MessageStatus.FAILED).order_by("-created_at").first()
    if failed is not None:
        raise InvalidTransition(_("The message “%(title)s” to the customer could not be sent (%(error)s). Send it "
                                  "again (or write a new one) before cancelling.")
                                % {"title": failed.title, "error": failed.last_error or _("unknown error")})
    raise InvalidTransition(_("Message the customer first (category “Cancel / refund”): a seller-side cancel "
                              "cannot be completed before the customer was told."))


def _replayed(idempotency_key: str | None) -> Claim | None:
    if not idempotency_key:
        return None
    return Claim.objects.filter(refund_operation__idempotency_key=idempotency_key).first()


def _run_refund(claim: Claim, *, by: Actor, idempotency_key: str | None, undo_state: str | None = None) -> Claim:
    """Move the money for an IN_PROGRESS claim (outside any transaction of ours), then finish the claim.

    A refusal (bad state, gateway declined, nothing sent) changes nothing: the claim goes back to
    `undo_state`, or is deleted when it was opened for this cancel. A lost answer leaves the claim in progress
    with its refund pending; the status sync settles the operation and claims.receivers finishes the claim.
    """
    order = claim.order
    try:
        op = refund_money(order, claim, by=by, idempotency_key=idempotency_key)
    except PaymentError as exc:
        op = exc.operation
        if op is not None and op.state in (OperationState.PENDING, OperationState.UNKNOWN):
            with transaction.atomic():
                _order, locked = _lock_claim(claim)
                record_outcome(locked, op)
                locked.save()
                _event(locked, by, _("Refund sent; the gateway's answer is not known yet (%(error)s).")
                       % {"error": exc.message})
            raise
        _undo(claim, undo_state)
        raise
    return finish_claim(claim.pk, op, by=by)


def _undo(claim: Claim, undo_state: str | None) -> None:
    with transaction.atomic():
        _order, locked = _lock_claim(claim)
        if undo_state is None:
            locked.delete()  # opened for this cancel only: nothing of it remains
        else:
            locked.state = undo_state
            locked.save(update_fields=["state", "updated_at"])


def finish_claim(claim_id: int, op: PaymentOperation, *, by: Actor | None = None) -> Claim | None:
    """Record `op`'s outcome and complete the claim (idempotent: the receiver may call it again)."""
    with transaction.atomic():
        claim = Claim.objects.select_related("order__payment").filter(pk=claim_id).first()
        if claim is None:
            return None  # refused and undone meanwhile
        _order, locked = _lock_claim(claim)
        if locked.state != ClaimState.IN_PROGRESS:
            return locked
        op.refresh_from_db()
        record_outcome(locked, op)
        if op.state == OperationState.SUCCEEDED:
            locked.state = ClaimState.DONE
            locked.completed_at = timezone.now()
        locked.save()
        actor = by or Actor(label=op.actor_label)
        if op.state == OperationState.SUCCEEDED:
            _event(locked, actor, _("%(kind)s done. %(money)s") % {"kind": locked.get_kind_display(),
                                                                    "money": op.explanation})
    return locked


# --- delivery ---------------------------------------------------------------------------------------------

def set_ship_date(order: Order, ship_date: dt.date, *, by: Actor) -> Order:
    """発送予定日を設定: 新規注文 / 配送遅延 → 配送準備."""
    by.require(order.shop_id, Perm.CAPTURE)
    if not isinstance(ship_date, dt.date) or isinstance(ship_date, dt.datetime):
        raise InvalidClaim(_("Give the planned ship date as a date."))
    if ship_date < timezone.localdate():
        raise InvalidClaim(_("The planned ship date %(date)s is in the past.") % {"date": ship_date.isoformat()})
    with transaction.atomic():
        locked = _lock_order(order)
        _check_delivery(locked, (Delivery.NEW, Delivery.DELAYED, Delivery.PREPARING),
                        _("A ship date can be set on a new or delayed order only; this one is “%(status)s”."))
        delivery.move(locked, Delivery.PREPARING, by=by, ship_date=ship_date,
                      note=_("ship date %(date)s") % {"date": ship_date.isoformat()})
    return locked


def mark_delayed(order: Order, *, by: Actor) -> Order:
    """配送遅延: 新規注文 / 配送準備 → 配送遅延 (the customer may then cancel alone)."""
    by.require(order.shop_id, Perm.CAPTURE)
    with transaction.atomic():
        locked = _lock_order(order)
        _check_delivery(locked, (Delivery.NEW, Delivery.PREPARING),
                        _("Only a new or preparing order can be marked delayed; this one is “%(status)s”."))
        delivery.move(locked, Delivery.DELAYED, by=by)
    return locked


# --- messages to the customer -------------------------------------------------------------------------------

def message_customer(order: Order, *, category: str, title: str, body: str, by: Actor) -> CustomerMessage:
    """お客様へのメッセージ: written, then sent at once. A failed send is kept FAILED with its error (shown on the
    order, retried with resend_message); it never raises, and a cancel waiting for it stays refused."""
    by.require(order.shop_id, Perm.VIEW)
    title, body = (title or "").strip(), (body or "").strip()
    if category not in MessageCategory.values:
        raise InvalidClaim(_("Choose the message's category."))
    if not title or not body:
        raise InvalidClaim(_("The message needs a title and a body."))
    if len(title) > TITLE_MAX or len(body) > BODY_MAX:
        raise InvalidClaim(_("Keep the title to %(title)s and the message to %(body)s characters.")
                           % {"title": TITLE_MAX, "body": BODY_MAX})
    if not order.customer_email:
        raise InvalidClaim(_("This order has no customer e-mail address to send the message to."))
    message = CustomerMessage.objects.create(
        shop_id=order.shop_id, order=order, category=category, title=title, body=body,
        created_by_id=by.user_id, created_by_label=by.label)
    return _send(message, by=by)


def resend_message(message: CustomerMessage, *, by: Actor) -> CustomerMessage:
    """Send a FAILED (or stuck) message again."""
    by.require(message.shop_id, Perm.VIEW)
    if message.status == MessageStatus.SENT:
        raise InvalidTransition(_("This message was already sent."))
    return _send(message, by=by)


def _send(message: CustomerMessage, *, by: Actor) -> CustomerMessage:
    # Sent now, not through the notices outbox: the operator must see at once whether the customer was told,
    # because the cancel waits for it.
    with transaction.atomic():
        locked = CustomerMessage.objects.select_for_update().select_related("order", "shop").get(pk=message.pk)
        if locked.status == MessageStatus.SENT:
            return locked
        locked.attempts += 1
        try:
            send_mail(f"[{locked.shop.name}] {locked.title}", locked.body, settings.DEFAULT_FROM_EMAIL,
                      [locked.order.customer_email])
        except Exception as exc:  # noqa: BLE001 - any mail failure is shown on the message and retryable
            locked.status = MessageStatus.FAILED
            locked.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            _order_event(locked.order, by, f"お客様へのメッセージ送信失敗「{locked.title}」: {locked.last_error}")
        else:
            locked.status = MessageStatus.SENT
            locked.last_error = ""
            locked.sent_at = timezone.now()
            _order_event(locked.order, by, f"お客様へのメッセージ送信「{locked.title}」")
        locked.save()
    return locked


# --- money preview ---------------------------------------------------------------------------------------------

def cancel_effect(order: Order, *, reason: str, requested_by: str = Party.SELLER) -> MoneyEffect:
    """What a cancel (or a return's full refund) with `reason` does with the money now (for confirm pages)."""
    if requested_by not in Party.values:
        raise InvalidClaim(_("Unknown party."))
    return effect(order, reason=reason)


# --- seller-side cancel ----------------------------------------------------------------------------------------

def seller_cancel(order: Order, *, reason: str, seller_memo: str, by: Actor, internal_memo: str = "",
                  idempotency_key: str | None = None) -> Claim:
    """販売店様都合のキャンセル on 新規注文 / 配送準備 / 配送遅延, after a sent message to the customer.

    CUSTOMER_REQUEST (購入者都合) only completes an open customer cancel request of this order.
    """
    by.require(order.shop_id, Perm.CANCEL)
    replay = _replayed(idempotency_key)
    if replay is not None:
        return replay
    _check_reason(ClaimKind.CANCEL, Party.SELLER, reason)
    seller_memo = _memo(seller_memo)
    internal_memo = _memo(internal_memo)
    with transaction.atomic():
        locked = _lock_order(order)
        _check_delivery(locked, SELLER_CANCEL_FROM, _(
            "A seller-side cancel is possible on a new, preparing or delayed order; this one is “%(status)s”. "
            "A shipped order is cancelled by opening a return."))
        open_claim = _open_claim(locked)
        if reason == Reason.CUSTOMER_REQUEST:
            if open_claim is None or open_claim.kind != ClaimKind.CANCEL or open_claim.state not in ANSWERABLE:
                raise InvalidTransition(_("“Customer's own reasons” needs a cancel request from the customer; "
                                          "this order has none open."))
        elif open_claim is not None:
            _no_open_claim(locked)
        _require_sent_message(locked)
        if open_claim is not None:
            claim = Claim.objects.select_for_update().get(pk=open_claim.pk)
            undo_state = claim.state
            claim.state = ClaimState.IN_PROGRESS
            claim.seller_memo = seller_memo or claim.seller_memo
            claim.internal_memo = internal_memo or claim.internal_memo
            claim.save()
        else:
            undo_state = None
            claim = _create_claim(locked, kind=ClaimKind.CANCEL, state=ClaimState.IN_PROGRESS,
                                  requested_by=Party.SELLER, reason=reason, seller_memo=seller_memo,
                                  internal_memo=internal_memo)
        _event(claim, by, _("Cancel by the seller: %(reason)s") % {"reason": claim.get_reason_display()})
    return _run_refund(claim, by=by, idempotency_key=idempotency_key, undo_state=undo_state)


# --- returns and exchanges ---------------------------------------------------------------------------------------

def open_return(order: Order, *, kind: str, reason: str, seller_memo: str, by: Actor, requested_by: str = "seller",
                internal_memo: str = "") -> Claim:
    """返品 / 交換 on a shipped order (配送中 / 配送完了). The seller opening it must have messaged the customer."""
    if kind not in (ClaimKind.RETURN, ClaimKind.EXCHANGE):
        raise InvalidClaim(_("A return claim is a return or an exchange."))
    if requested_by not in Party.values:
        raise InvalidClaim(_("Unknown party."))
    by.require(order.shop_id, Perm.CANCEL if requested_by == Party.SELLER else Perm.VIEW)
    _check_reason(kind, requested_by, reason)
    seller_memo, internal_memo = _memo(seller_memo), _memo(internal_memo)
    with transaction.atomic():
        locked = _lock_order(order)
        _check_delivery(locked, RETURN_FROM, _(
            "A return or exchange is opened on a shipped order; this one is “%(status)s”. Cancel it instead."))
        _no_open_claim(locked)
        if requested_by == Party.SELLER:
            _require_sent_message(locked)
        claim = _create_claim(locked, kind=kind, requested_by=requested_by, reason=reason,
                              state=ClaimState.IN_PROGRESS if requested_by == Party.SELLER else ClaimState.REQUESTED,
                              seller_memo=seller_memo, internal_memo=internal_memo)
        _event(claim, by, _("%(kind)s opened: %(reason)s") % {"kind": claim.get_kind_display(),
                                                               "reason": claim.get_reason_display()})
    return claim


def confirm_return(claim: Claim, *, item_received: bool, refund_approved: bool, by: Actor,
                   idempotency_key: str | None = None) -> Claim:
    """【回収完了/全額払い戻し】: both confirmations, then the full refund (return) → DONE; an exchange → DONE."""
    by.require(claim.shop_id, Perm.CANCEL)
    replay = _replayed(idempotency_key)
    if replay is not None:
        return replay
    if item_received is not True or refund_approved is not True:
        raise InvalidClaim(_("Confirm both: the item was received back, and the refund is approved."))
    with transaction.atomic():
        order, locked = _lock_claim(claim)
        if locked.kind not in (ClaimKind.RETURN, ClaimKind.EXCHANGE):
            raise InvalidTransition(_("Only a return or an exchange is confirmed this way."))
        if locked.state not in (ClaimState.REQUESTED, ClaimState.IN_PROGRESS):
            raise InvalidTransition(_("This claim is “%(state)s”; it cannot be confirmed now.")
                                    % {"state": locked.get_state_display()})
        now = timezone.now()
        undo_state = locked.state
        locked.item_received_at, locked.refund_approved_at = now, now
        # The goods came back (返送): a shipped wallet order may then be cancelled (SPEC 3.2).
        order.shipments.filter(shipped_at__isnull=False, returned_at__isnull=True).update(returned_at=now)
        _event(locked, by, _("Item received back; refund approved."))
        if locked.kind == ClaimKind.EXCHANGE:
            locked.state, locked.completed_at = ClaimState.DONE, now
            locked.save()
            _event(locked, by, _("Exchange done (no refund)."))
            return locked
        locked.state = ClaimState.IN_PROGRESS
        locked.save()
    try:
        return _run_refund(locked, by=by, idempotency_key=idempotency_key, undo_state=undo_state)
    except PaymentError:
        with transaction.atomic():  # a refused refund: the confirmations are not kept either
            Claim.objects.filter(pk=locked.pk, state=undo_state).update(item_received_at=None,
                                                                        refund_approved_at=None)
            order.shipments.filter(returned_at=now).update(returned_at=None)
        raise


# --- customer side ------------------------------------------------------------------------------------------

def customer_cancel(order: Order, *, by: Actor, note: str = "") -> Claim:
    """購入者都合のキャンセル: in 入金待ち / 新規注文 / 配送遅延 done at once with the refund (the transfer fee is
    kept back); in 配送準備 a cancel request for the seller (staff digest)."""
    by.require(order.shop_id, Perm.CANCEL)
    note = _memo(note)
    with transaction.atomic():
        locked = _lock_order(order)
        _check_delivery(locked, (*CUSTOMER_CANCEL_ALONE, Delivery.PREPARING), _(
            "This order is “%(status)s”: it can no longer be cancelled. Ask for a return instead."))
        _no_open_claim(locked)
        alone = locked.delivery_status in CUSTOMER_CANCEL_ALONE
        claim = _create_claim(locked, kind=ClaimKind.CANCEL, requested_by=Party.CUSTOMER,
                              reason=Reason.CUSTOMER_REQUEST, internal_memo="",
                              state=ClaimState.IN_PROGRESS if alone else ClaimState.REQUESTED)
        _event(claim, by, _("Cancel requested by the customer.") + (f" {note}" if note else ""))
    if not alone:
        return claim
    return _run_refund(claim, by=by, idempotency_key=None)


def approve_cancel_request(claim: Claim, *, by: Actor, seller_memo: str = "") -> Claim:
    """The seller accepts a customer's cancel request (配送準備): cancel with the customer's reason."""
    by.require(claim.shop_id, Perm.CANCEL)
    seller_memo = _memo(seller_memo)
    with transaction.atomic():
        _order, locked = _lock_claim(claim)
        _check_answerable(locked)
        undo_state = locked.state
        locked.state = ClaimState.IN_PROGRESS
        if seller_memo:
            locked.seller_memo = seller_memo
        locked.save()
        _event(locked, by, _("Cancel request approved."))
    return _run_refund(locked, by=by, idempotency_key=None, undo_state=undo_state)


def _check_answerable(claim: Claim) -> None:
    if claim.kind != ClaimKind.CANCEL or claim.requested_by != Party.CUSTOMER:
        raise InvalidTransition(_("This is not a customer's cancel request."))
    if claim.state not in ANSWERABLE:
        raise ChangedMeanwhile(_("This cancel request is “%(state)s” now; it was answered meanwhile.")
                               % {"state": claim.get_state_display()})


def ask_withdrawal(claim: Claim, *, deadline: dt.datetime, seller_memo: str, by: Actor) -> Claim:
    """撤回要請: ask the customer to withdraw the cancel request by `deadline` (the memo says why)."""
    by.require(claim.shop_id, Perm.CANCEL)
    seller_memo = _memo(seller_memo, required=True, what=_("why the customer should withdraw the request"))
    if not isinstance(deadline, dt.datetime):
        raise InvalidClaim(_("Give the withdrawal deadline as a date and time."))
    if timezone.is_naive(deadline):
        deadline = timezone.make_aware(deadline)
    if deadline <= timezone.now():
        raise InvalidClaim(_("The withdrawal deadline must be in the future."))
    with transaction.atomic():
        _order, locked = _lock_claim(claim)
        _check_answerable(locked)
        if locked.state != ClaimState.REQUESTED:
            raise InvalidTransition(_("The customer was already asked to withdraw this request."))
        locked.state, locked.withdrawal_deadline, locked.seller_memo = (ClaimState.WITHDRAWAL_REQUESTED, deadline,
                                                                         seller_memo)
        locked.save()
        _event(locked, by, _("The customer was asked to withdraw the request by %(deadline)s.")
               % {"deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")})
    return locked


def withdraw_request(claim: Claim, *, by: Actor) -> Claim:
    """The customer withdraws their cancel request (撤回)."""
    by.require(claim.shop_id, Perm.VIEW)
    with transaction.atomic():
        _order, locked = _lock_claim(claim)
        _check_answerable(locked)
        locked.state, locked.completed_at = ClaimState.WITHDRAWN, timezone.now()
        locked.save()
        _event(locked, by, _("Cancel request withdrawn by the customer."))
    return locked


def refuse_cancel_request(claim: Claim, *, seller_memo: str, by: Actor) -> Claim:
    """キャンセル拒否: the seller refuses the customer's cancel request (the memo tells the customer why)."""
    by.require(claim.shop_id, Perm.CANCEL)
    seller_memo = _memo(seller_memo, required=True, what=_("why the request is refused"))
    with transaction.atomic():
        _order, locked = _lock_claim(claim)
        _check_answerable(locked)
        locked.state, locked.seller_memo, locked.completed_at = ClaimState.REFUSED, seller_memo, timezone.now()
        locked.refund_state = RefundState.NONE
        locked.save()
        _event(locked, by, _("Cancel request refused."))
    return locked
