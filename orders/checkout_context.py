"""What the buyer's checkout page shows for a payment, and the buyer's words for what went wrong.

The page is driven by OUR payment status only (after a sync with the PG where one happened): the
browser's query string and the PG's notification body never decide anything.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlencode

from django.conf import settings

from gateways.gmo.messages import describe
from orders.checkout_links import card_return_url, token_for
from payments.errors import (
    ChangedMeanwhile,
    GatewayDeclined,
    GatewayUnavailable,
    InvalidToken,
    OutcomeUnknown,
    PaymentBusy,
    PaymentError,
)
from payments.models import CANCELLED, Method, Payment, Status

PAID = (Status.AUTHORIZED, Status.CAPTURED, Status.CAPTURED_IMMEDIATELY)
# Where the buyer may pay again (SPEC 3.2 決済方法の変更). Narrower than what the operator may do: a buyer
# must never be able to cancel a live 仮売上 by posting the pay-again form.
PAY_AGAIN_FROM = (Status.NEEDS_CONFIRMATION, Status.PAYMENT_FAILED)
# The buyer's words for the method, whatever the admin's catalog holds.
METHOD_NAMES = {Method.RECRUIT: "リクルートかんたん支払い", Method.CARD: "クレジットカード"}


class Stage(StrEnum):
    PAID = "paid"  # 仮売上 / 決済完了 / 即時売上: thank you
    START = "start"  # wallet, nothing started yet: the pay button
    CLOSED = "closed"  # wallet, but the shop no longer accepts new wallet checkouts
    STARTED = "started"  # wallet, the buyer was sent to the wallet and the result is not known yet
    NOT_COMPLETED = "not_completed"  # 要確認 / 決済失敗: pay again
    CARD = "card"  # card, not yet authorized: the link to GMO's card page
    CARD_REFUSED = "card_refused"
    CANCELLED = "cancelled"
    OTHER = "other"  # a back-office state (売上失敗, 仮売上期限切れ, ...): the shop handles it


def stage_of(payment: Payment) -> Stage:
    status = payment.status
    if status in PAID:
        return Stage.PAID
    if status in (*CANCELLED, Status.CANCELLED):
        return Stage.CANCELLED
    if payment.is_wallet:
        if status == Status.UNPROCESSED:
            if payment.checkout_token:
                return Stage.STARTED
            return Stage.START if payment.shop.wallet_checkout_enabled else Stage.CLOSED
        if status in PAY_AGAIN_FROM:
            return Stage.NOT_COMPLETED
        return Stage.OTHER
    if status == Status.UNPROCESSED:
        return Stage.CARD
    return Stage.CARD_REFUSED if status == Status.FAILED else Stage.OTHER


def pay_again_methods(payment: Payment) -> tuple[str, ...]:
    # A refused card (SPEC 3.1: the customer sees the card step again) holds nothing at GMO either.
    if stage_of(payment) not in (Stage.NOT_COMPLETED, Stage.CARD_REFUSED):
        return ()
    wallet = (Method.RECRUIT,) if payment.shop.wallet_checkout_enabled else ()
    return (*wallet, Method.CARD)


def tokenizer_url(payment: Payment) -> str:
    """GMO's card page: the card number is typed there and only a one-time token comes back to us."""
    base = (payment.shop.gmo_base_url or settings.GMO_PG_BASE_URL).rstrip("/")
    return f"{base}/token?{urlencode({'return_url': card_return_url(payment)})}"


def page_context(payment: Payment, *, error: str = "", notice: str = "") -> dict:
    stage = stage_of(payment)
    orders = list(payment.orders.prefetch_related("lines").order_by("pk"))
    return {
        "payment": payment,
        "shop": payment.shop,
        "orders": orders,
        "stage": stage.value,
        "status_label": payment.get_status_display(),
        "method_label": METHOD_NAMES.get(payment.method, payment.get_method_display()),
        "token": token_for(payment),
        "tokenizer_url": tokenizer_url(payment) if stage == Stage.CARD else "",
        "pay_again": pay_again_methods(payment),
        "error": error,
        "notice": notice,
    }


# --- the buyer's words ----------------------------------------------------------------------------------

RESULT_PENDING = ("お支払い結果を決済サービスに確認できませんでした。結果はまもなく自動で確定します。"
                  "しばらくしてからこのページを再読み込みしてください。")
START_REFUSED = {
    Stage.CLOSED: "このショップでは現在、リクルートかんたん支払いによる新しいお支払いを受け付けていません。"
                  "お手数ですがショップにお問い合わせください。",
    Stage.STARTED: "このお支払いの手続きはすでに開始されています。リクルートの画面でお手続きを完了してください。",
}
NOT_NOW = "このお支払いは現在この操作を受け付けていません。ページの内容をご確認ください。"


def decline_reason(exc: GatewayDeclined) -> str:
    codes = [code for code in exc.gateway_code.split("|") if code]
    reasons = dict.fromkeys(describe(code) for code in codes)  # ordered, without repeats
    return " ".join(reasons) or "決済サービスがお手続きを受け付けませんでした。"


def buyer_message(exc: PaymentError, *, card: bool = False) -> str:
    if isinstance(exc, GatewayDeclined):
        if card:
            return f"カードでのお支払いが承認されませんでした: {decline_reason(exc)}"
        return (f"決済サービスがお手続きを受け付けませんでした（{exc.gateway_code}）。"
                "時間をおいて再度お試しいただくか、ショップにお問い合わせください。")
    if isinstance(exc, GatewayUnavailable):
        return "決済サービスに接続できませんでした。しばらくしてから再度お試しください。"
    if isinstance(exc, OutcomeUnknown):
        return ("決済サービスからの応答を確認できませんでした。状況を確認していますので、"
                "しばらくしてからこのページを再読み込みしてください。")
    if isinstance(exc, PaymentBusy):
        return "このお支払いは処理中です。しばらくしてからこのページを再読み込みしてください。"
    if isinstance(exc, ChangedMeanwhile):
        return "お支払いの状況が変わりました。最新の状況をご確認ください。"
    if isinstance(exc, InvalidToken):
        return "カード情報を受け取れませんでした。もう一度カード情報を入力してください。"
    return NOT_NOW
