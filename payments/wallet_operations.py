"""Operations on GMO redirect-wallet payments (Recruit easy pay, SPEC 3.2), run by the same ledger engine.

Each class says what is allowed (payments.wallet_rules), what the operator is told, which wallet API is
called and how a lost answer is settled from SearchTradeMulti. Cancels that the PG cannot execute are
recorded without a gateway call: "nothing to do at the PG", or a manual refund task.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from gateways.base import TransactionResult
from gateways.gmo.wallet import WalletStatus as PgStatus
from payments import wallet_rules
from payments.card_rules import JST
from payments.errors import InvalidAmount, InvalidTransition
from payments.formatting import yen
from payments.gateway_factory import gateway_for, wallet_ref
from payments.models import OperationKind, Payment, Status
from payments.operations import (
    MANUAL_REFUND,
    CardOperation,
    OpensRefundTask,
    Plan,
    checkout_job,
    entered,
    validate_amount,
)
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation
from shops.roles import Perm

# Cancel jobs besides MANUAL_REFUND: executed at the PG, or nothing to do at the PG.
PG_CANCEL, NOTHING_AT_PG = "CANCEL", "NONE"
# PG words meaning the wallet still holds (or may still take) the buyer's money.
PG_LIVE = (*PgStatus.LIVE, PgStatus.REQUESTED, PgStatus.IN_PROGRESS)
# How fresh the PG check before a cancel of 要確認 / 売上失敗 must be.
CHECK_FRESH_FOR = timedelta(minutes=10)


def require(operation: str, payment: Payment, now: datetime, **facts) -> None:
    verdict = wallet_rules.availability(operation, facts_for(payment, now, **facts))
    if not verdict.allowed:
        raise InvalidTransition(verdict.reason)


def pg_cancel_deadline(captured_at: datetime) -> datetime:
    """The PG cancels (refunds) a captured transaction until the end of the following month, JST [?]."""
    return wallet_rules.window_end(captured_at)


def item_name(payment: Payment) -> str:
    name = f"{payment.shop.name} {payment.reference}".strip()
    while len(name.encode("cp932", errors="replace")) > 64:  # the wallet's ItemName limit
        name = name[:-1]
    return name or payment.gateway_order_id


class WalletOperationSpec(CardOperation):
    def gateway(self, payment: Payment):
        return gateway_for(payment)


class StartCheckout(WalletOperationSpec):
    """EntryTran + ExecTran: registers the transaction and gets the token the buyer's browser takes to the
    wallet. Moves no money; the buyer's approval is learnt from SearchTradeMulti, never from the browser."""

    kind = OperationKind.START
    perm = Perm.VIEW  # the customer's checkout

    def plan(self, payment, now, ret_url="", **kwargs):
        if payment.status != Status.UNPROCESSED or payment.checkout_token:
            raise InvalidTransition(_("The checkout of this payment was already started."))
        if not payment.shop.wallet_checkout_enabled:
            raise InvalidTransition(_("This shop no longer accepts new payments with Recruit easy pay."))
        job = checkout_job(payment.shop)
        return Plan(job, payment.amount, 0, _("Checkout of %(amount)s started with Recruit easy pay (%(job)s).")
                    % {"amount": yen(payment.amount), "job": job}, context={"ret_url": ret_url})

    def call(self, payment, plan):
        gateway = self.gateway(payment)
        ref = entered(gateway, wallet_ref(payment), payment, plan)
        start = gateway.execute(ref, plan.context["ret_url"], item_name(payment))
        Payment.objects.filter(pk=payment.pk).update(checkout_url=start.start_url, checkout_token=start.token)
        return TransactionResult(status=PgStatus.REQUESTED, amount=plan.amount, access_id=ref.access_id,
                                 raw={"StartURL": start.start_url})

    def apply(self, payment, plan, at):
        payment.refresh_from_db(fields=["access_id", "access_pass", "checkout_url", "checkout_token"])

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None or trade.status == PgStatus.UNPROCESSED:
            return False
        return True


class WalletCapture(WalletOperationSpec):
    kind = OperationKind.CAPTURE
    perm = Perm.CAPTURE

    def plan(self, payment, now, **kwargs):
        require(WalletOperation.CAPTURE, payment, now)
        return Plan("SALES", payment.amount, payment.amount,
                    _("%(amount)s is captured at the PG (Recruit easy pay): the payment becomes 決済完了.")
                    % {"amount": yen(payment.amount)})

    def call(self, payment, plan):
        # The amount travels as a guard: the PG refuses a capture whose amount differs from what it holds.
        return self.gateway(payment).capture(wallet_ref(payment), plan.amount)

    def apply(self, payment, plan, at):
        payment.capture_succeeded(at)

    def on_refused(self, payment, plan, exc):
        payment.capture_failed()  # 売上失敗; the status sync restores it when the PG says otherwise
        return True

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        if trade.status in (PgStatus.CAPTURED, PgStatus.CAPTURED_IMMEDIATELY):
            return True
        return False if trade.status == PgStatus.AUTHORIZED else None


class WalletCancel(OpensRefundTask, WalletOperationSpec):
    kind = OperationKind.CANCEL
    perm = Perm.CANCEL

    def plan(self, payment, now, reason="", **kwargs):
        require(WalletOperation.CANCEL, payment, now)
        if wallet_rules.needs_gateway_check_before(WalletOperation.CANCEL, payment.status):
            if payment.last_synced_at is None or now - payment.last_synced_at > CHECK_FRESH_FOR:
                raise InvalidTransition(_("Check the status with the PG first: in this status the PG may still "
                                          "hold an authorization or a capture."))
        job, amount, effect = self._job(payment, now)
        explanation = _("注文キャンセル: %(effect)s") % {"effect": effect}
        if reason:
            explanation = f"{explanation} ({reason})"
        return Plan(job, amount, payment.amount, explanation)

    @staticmethod
    def _job(payment: Payment, now: datetime) -> tuple[str, int, str]:
        captured = payment.captured_amount
        if payment.status == Status.AUTHORIZED:
            return PG_CANCEL, payment.amount, _(
                "the authorization of %(amount)s is released at the PG; nothing was charged.") % {
                "amount": yen(payment.amount)}
        if payment.status == Status.CAPTURED:
            deadline = pg_cancel_deadline(payment.captured_at)
            if now <= deadline:
                return PG_CANCEL, captured, _(
                    "the PG refunds %(amount)s to the buyer. Do not refund by hand.") % {"amount": yen(captured)}
            return MANUAL_REFUND, captured, _(
                "the PG no longer cancels this payment (its period ended %(deadline)s JST). A manual refund "
                "task of %(amount)s is opened: refund the buyer by hand.") % {
                "amount": yen(captured), "deadline": deadline.astimezone(JST).strftime("%Y-%m-%d %H:%M")}
        if payment.gateway_status in PG_LIVE:
            return PG_CANCEL, payment.amount, _(
                "the PG still shows the transaction as %(word)s; it is cancelled at the PG so the buyer cannot "
                "be charged.") % {"word": payment.gateway_status}
        return NOTHING_AT_PG, 0, _("the PG holds nothing for this payment (it shows %(word)s); only our record "
                                   "is cancelled.") % {"word": payment.gateway_status or "—"}

    def call(self, payment, plan):
        if plan.job != PG_CANCEL:
            return TransactionResult(status=payment.gateway_status, amount=0)  # nothing is sent
        return self.gateway(payment).cancel(wallet_ref(payment))

    def apply(self, payment, plan, at):
        payment.wallet_cancelled(at)

    def outcome_from_trade(self, payment, plan, trade):
        if plan.job == MANUAL_REFUND:
            # Nothing was sent to the PG: only a crash between the two steps leaves it open, and recording it
            # (the cancel and its manual refund task) is all there is to finish. Else the payment stays locked.
            return True
        if plan.job != PG_CANCEL:
            return None
        if trade is None:
            return None
        if trade.status == PgStatus.CANCELLED:
            return True
        return False if trade.status in PgStatus.LIVE else None


class SendAmountChange(WalletOperationSpec):
    """Sends the order's edited amount to the PG (金額変更). Until then capture is blocked."""

    kind = OperationKind.CHANGE_AMOUNT
    perm = Perm.CHANGE_AMOUNT

    def plan(self, payment, now, new_amount=None, **kwargs):
        if new_amount is not None:
            new_amount = validate_amount(new_amount)
            if payment.pending_amount is not None and payment.pending_amount != new_amount:
                raise InvalidAmount(_("An unsent change to %(pending)s is waiting; send it or edit the order.")
                                    % {"pending": yen(payment.pending_amount)})
            require(WalletOperation.CHANGE_AMOUNT, payment, now, new_amount=new_amount)
        else:
            require(WalletOperation.SEND_AMOUNT_CHANGE, payment, now)
            new_amount = payment.pending_amount
        diff = new_amount - payment.amount
        if payment.status == Status.CAPTURED:
            money = _("%(diff)s is refunded to the buyer by the PG") % {"diff": yen(-diff)}
        else:
            money = _("the authorization becomes %(new)s; capture it later") % {"new": yen(new_amount)}
        return Plan("CHANGE", new_amount, payment.amount, _(
            "金額変更を送信 %(old)s → %(new)s: %(money)s. The wallet e-mails the buyer about the change.") % {
            "old": yen(payment.amount), "new": yen(new_amount), "money": money})

    def call(self, payment, plan):
        return self.gateway(payment).change(wallet_ref(payment), plan.amount)

    def apply(self, payment, plan, at):
        payment.wallet_amount_changed(plan.amount, at)

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        # trade.amount is the PG's Amount + Tax, as the change itself is sent (Tax 0).
        if trade.amount == plan.amount:
            return True
        return False if trade.amount == plan.previous_amount else None


class ExtendAuthorization(WalletOperationSpec):
    kind = OperationKind.EXTEND_AUTHORIZATION
    perm = Perm.CAPTURE  # staff who wait for stock keep the order capturable

    def plan(self, payment, now, **kwargs):
        require(WalletOperation.EXTEND_AUTHORIZATION, payment, now)
        return Plan("UPDATEAUTH", payment.amount, payment.amount, _(
            "オーソリ期間延長: the PG keeps the authorization of %(amount)s for a further %(days)s days.") % {
            "amount": yen(payment.amount), "days": settings.WALLET_AUTH_EXTENSION_DAYS})

    def call(self, payment, plan):
        return self.gateway(payment).extend_authorization(wallet_ref(payment))

    def apply(self, payment, plan, at):
        payment.authorization_extended(at)

    def outcome_from_trade(self, payment, plan, trade):
        if trade is None:
            return None
        day = trade.raw.get("RcUpdateAuthDay", "")
        known = payment.authorization_extended_at
        if day and (known is None or day > known.astimezone(JST).strftime("%Y%m%d")):
            return True
        return None  # the PG does not say whether this very request extended it


WALLET_SPECS: dict[str, CardOperation] = {
    spec.kind: spec for spec in (StartCheckout(), WalletCapture(), WalletCancel(), SendAmountChange(),
                                 ExtendAuthorization())
}
