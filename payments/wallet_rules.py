"""Pure rules for GMO redirect-wallet payments (SPEC 3.2; Recruit easy pay, seed 002).

Which operation is allowed in which wallet state, the amount-change window after a capture, and how
the PG's status words map to our states. No database, no gateway: every function takes plain values,
so the whole table is unit-testable at Asia/Tokyo day and month boundaries.

WalletStatus uses the same values as payments.models.Status (which holds both methods' states, so the
rules stay free of the ORM); WalletOperation names the operator's buttons, some of which are not ledger
operations (mark shipped, change payment method).

Where seed 002 and SPEC 3.2 differ, SPEC wins; each such point is marked "SPEC over seed" below.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from django.db.models import TextChoices
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.card_rules import JST, MAX_AMOUNT, Availability

__all__ = [
    "GMO_WALLET_STATUS",
    "Availability",
    "AmountWindow",
    "WalletFacts",
    "WalletOperation",
    "WalletStatus",
    "amount_change_window",
    "availability",
    "available_operations",
    "gmo_status_to_wallet_status",
    "needs_gateway_check_before",
    "window_end",
]


class WalletStatus(TextChoices):
    NEEDS_CONFIRMATION = "needs_confirmation", gettext_lazy("Needs confirmation")  # 要確認
    AUTHORIZED = "authorized", gettext_lazy("Authorized")  # 仮売上
    # 決済完了: its own label, because "Captured" is the card's 実売上 in the catalog.
    CAPTURED = "captured", gettext_lazy("Payment completed")  # 決済完了
    CANCELLED = "cancelled", gettext_lazy("Order cancelled")  # 注文キャンセル
    CAPTURE_FAILED = "capture_failed", gettext_lazy("Capture failed")  # 売上失敗
    PAYMENT_FAILED = "payment_failed", gettext_lazy("Payment failed")  # 決済失敗
    AUTH_EXPIRED = "auth_expired", gettext_lazy("Authorization expired")  # 仮売上期限切れ


class WalletOperation(TextChoices):
    CAPTURE = "capture", gettext_lazy("Capture")  # 実売上処理
    CANCEL = "cancel", gettext_lazy("Cancel")  # 注文キャンセル
    CHANGE_AMOUNT = "change_amount", gettext_lazy("Change amount")  # 金額変更
    EXTEND_AUTHORIZATION = "extend_authorization", gettext_lazy("Extend authorization period")  # オーソリ期間延長
    CHANGE_PAYMENT_METHOD = "change_payment_method", gettext_lazy("Change payment method")  # 決済方法の変更
    MARK_SHIPPED = "mark_shipped", gettext_lazy("Mark shipped")  # 配送完了
    SEND_AMOUNT_CHANGE = "send_amount_change", gettext_lazy("Send amount change to the PG")  # 変更内容をGMO-PGに送信


S = WalletStatus
Op = WalletOperation

# SPEC over seed: seed 002's list of cancellable statuses (キャンセル処理) leaves out 売上失敗, while its
# 売上失敗 paragraph allows cancelling it when unshipped. SPEC 3.2 allows it.
CANCELLABLE = (S.NEEDS_CONFIRMATION, S.AUTHORIZED, S.CAPTURED, S.CAPTURE_FAILED, S.PAYMENT_FAILED, S.AUTH_EXPIRED)
# Seed: [仮売上(未処理/返送)] [決済完了(未処理/返送)], and 売上失敗 "配送処理をおこなっていない" only.
CANCEL_ONLY_UNSHIPPED = (S.AUTHORIZED, S.CAPTURED, S.CAPTURE_FAILED)
# SPEC over seed: seed 002 offers 決済方法の変更 from 要確認 / 決済失敗 / 仮売上期限切れ and suggests it from
# 注文キャンセル, but leaves the live PG transaction to the operator ("PG管理画面から決済のキャンセル").
# SPEC 3.2: from 注文キャンセル only unshipped and with nothing live at the PG, and we cancel it ourselves.
CHANGE_METHOD_FROM = (S.NEEDS_CONFIRMATION, S.PAYMENT_FAILED, S.AUTH_EXPIRED, S.CANCELLED)
AMOUNT_CHANGEABLE = (S.AUTHORIZED, S.CAPTURED)

# Status words of the GMO redirect wallets (reference 3.3: sandbox assumption, not documented by GMO).
# Callers may pass a corrected table to gmo_status_to_wallet_status() without a code change.
GMO_WALLET_STATUS: dict[str, str] = {
    # Entry made, customer never completed the wallet page (or the link failed mid-way): 要確認.
    "UNPROCESSED": S.NEEDS_CONFIRMATION,
    "REQSUCCESS": S.NEEDS_CONFIRMATION,  # token issued, customer not back yet
    "AUTHPROCESS": S.NEEDS_CONFIRMATION,  # customer on the wallet's pages
    "AUTH": S.AUTHORIZED,  # 仮売上
    "CAPTURE": S.CAPTURED,  # immediate capture (即時売上) -> 決済完了
    "SALES": S.CAPTURED,  # after RecruitSales -> 決済完了
    "CANCEL": S.CANCELLED,  # before or after capture -> 注文キャンセル
    "PAYFAIL": S.PAYMENT_FAILED,  # declined, or start deadline passed -> 決済失敗
    "EXPIRED": S.AUTH_EXPIRED,  # not captured within the PG's period -> 仮売上期限切れ
}

_CHANGE_BLACKOUT_END = time(1, 0)  # 00:00-01:00 JST on the day after the capture: no amount change


# --- Asia/Tokyo calendar -------------------------------------------------------------------------------


def _jst(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive datetime would be read in the server's zone and shift the JST day silently.
        raise ValueError("an aware datetime is required (business dates are Asia/Tokyo)")
    return moment.astimezone(JST)


def _jst_date(moment: datetime) -> date:
    return _jst(moment).date()


def _fmt_day(day: date) -> str:
    return day.isoformat()


def _fmt_moment(moment: datetime) -> str:
    return _jst(moment).strftime("%Y-%m-%d %H:%M")


def window_end(captured_at: datetime) -> datetime:
    """Last moment an amount change is possible after a capture: end of the following month, JST.

    Capture 2026-01-31 -> 2026-02-28 23:59:59.999999 JST; capture 2025-12-15 -> 2026-01-31 23:59:59.999999.
    """
    day = _jst_date(captured_at)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    last = monthrange(year, month)[1]
    return datetime(year, month, last, 23, 59, 59, 999_999, tzinfo=JST)


class AmountWindow(NamedTuple):
    allowed: bool
    reason: str


def amount_change_window(captured_at: datetime, now: datetime) -> AmountWindow:
    """May the amount of a completed (決済完了) payment be changed at `now`? Unpacks as (allowed, reason).

    Seed 002: not on the capture day; from the completion day to the end of the following month; never
    00:00-01:00 on the day after the capture. All in Asia/Tokyo. The 01:00 end is exclusive (01:00 is allowed).
    Only the calendar window is checked here; increases are refused by availability().
    """
    capture_day = _jst_date(captured_at)
    local_now = _jst(now)
    today = local_now.date()
    end = window_end(captured_at)
    params = {"day": _fmt_day(capture_day), "end": _fmt_moment(end)}
    if today <= capture_day:
        return AmountWindow(False, _(
            "The amount cannot be changed on the day of the capture (%(day)s, JST). "
            "It can be changed from the next day until %(end)s (JST).") % params)
    if today == capture_day + timedelta(days=1) and local_now.time() < _CHANGE_BLACKOUT_END:
        return AmountWindow(False, _(
            "The wallet accepts no amount change between 00:00 and 01:00 (JST) on the day after the capture "
            "(captured %(day)s). Try again from 01:00.") % params)
    if local_now > end:
        return AmountWindow(False, _(
            "The amount-change period is over: it runs from the day after the capture (%(day)s) to the end of "
            "the following month, and ended at %(end)s (JST).") % params)
    return AmountWindow(True, _("The amount can be decreased until %(end)s (JST).") % params)


# --- the facts the rules need --------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletFacts:
    """Everything the rules look at, as plain values. Defaults describe an ordinary unshipped order."""

    status: str
    now: datetime
    shipped: bool = False  # goods shipped (any shipment)
    goods_returned: bool = False  # shipped goods came back to the shop (返送)
    multi_address: bool = False  # order ships to several addresses (複数配送)
    whole_order: bool = True  # the cancel covers the whole order, not one address
    points_only: bool = False  # paid with points only (Pontaポイントのみ)
    captured_at: datetime | None = None  # when the capture / immediate capture completed
    current_amount: int = 0  # amount live at the PG now (after any earlier change)
    new_amount: int | None = None  # requested amount for change_amount / send_amount_change
    unsent_change: bool = False  # the order's amount was edited but not yet sent to the PG
    extension_enabled: bool = False  # shop setting オーソリ期間延長設定 = 利用する


def needs_gateway_check_before(operation: str, status: str) -> bool:
    """Must the caller query the PG (SearchTradeMulti) before running `operation` from `status`?

    SPEC over seed: seed 002 cancels 要確認 / 売上失敗 in its own records and tells the operator to look at the
    PG screen. 要確認 also covers "the link failed mid-payment", so the PG may hold an authorization or even
    a capture; cancelling only our record would leave the buyer charged. So: query first, sync if the PG
    shows a live transaction, then apply that state's rules.

    Changing the payment method from 注文キャンセル needs "nothing live at the PG", checked by query. From
    要確認 it needs the same query, for the reason above: the live transaction must be cancelled by us, and
    we can only know it is there by asking (otherwise the buyer could pay twice).
    """
    if operation == Op.CANCEL:
        return status in (S.NEEDS_CONFIRMATION, S.CAPTURE_FAILED)
    if operation == Op.CHANGE_PAYMENT_METHOD:
        return status in (S.CANCELLED, S.NEEDS_CONFIRMATION)
    return False


# --- availability --------------------------------------------------------------------------------------


def availability(operation: str, facts: WalletFacts) -> Availability:
    """Is `operation` allowed on a wallet payment with these facts? If not, say why in the operator's words."""
    status = facts.status
    if status not in S.values:
        return Availability(False, _("Unknown payment status: %(status)s.") % {"status": status})
    check = _CHECKS.get(operation)
    if check is None:
        return Availability(False, _("Unknown operation."))
    if status == S.CANCELLED and operation != Op.CHANGE_PAYMENT_METHOD:
        return Availability(False, _("This order is cancelled (注文キャンセル). Only the payment method can be "
                                     "changed, to keep the order."))
    return check(facts)


def available_operations(facts: WalletFacts) -> list[str]:
    """The operations to offer for these facts, in WalletOperation order."""
    return [op for op in Op.values if availability(op, facts).allowed]


def _capture(facts: WalletFacts) -> Availability:
    if facts.status != S.AUTHORIZED:
        return Availability(False, _("Only an authorized (仮売上) order can be captured."))
    if facts.unsent_change:
        # SPEC over seed: seed 002 only warns that a capture without the sent change fails at the PG and
        # the money cannot be collected. We block the capture until the change is sent.
        return Availability(False, _(
            "The order's amount was changed but the change has not been sent to the PG. Send the change to "
            "the PG first: a capture without it fails at the PG and the payment cannot be collected."))
    return Availability(True)


def _cancel(facts: WalletFacts) -> Availability:
    if facts.status not in CANCELLABLE:  # only 注文キャンセル is left, handled in availability()
        return Availability(False, _("An order in this status cannot be cancelled."))
    if facts.multi_address and not facts.whole_order:
        return Availability(False, _(
            "This order ships to several addresses: it can only be cancelled as a whole (注文全キャンセル), "
            "not one address at a time."))
    if facts.status in CANCEL_ONLY_UNSHIPPED and facts.shipped and not facts.goods_returned:
        return Availability(False, _(
            "The goods have been shipped. An order with the status “%(status)s” can be cancelled only before "
            "shipping, or after the goods have come back to the shop (返送).") % {"status": S(facts.status).label})
    return Availability(True)


def _amount_change(facts: WalletFacts) -> Availability:
    """Rules shared by change_amount and send_amount_change (the PG applies them when the change is sent)."""
    if facts.status not in AMOUNT_CHANGEABLE:
        return Availability(False, _(
            "The amount can be changed only while the order is authorized (仮売上) or its payment is completed "
            "(決済完了)."))
    new, current = facts.new_amount, facts.current_amount
    if new is not None:
        if new < 0:
            return Availability(False, _("The amount cannot be negative."))
        if new == 0:
            # Not in seed 002; SPEC: a change that would leave ¥0 is a cancel, never an amount change to 0.
            return Availability(False, _("An amount of ¥0 is a cancellation, not an amount change: use Cancel "
                                         "instead."))
        if new > MAX_AMOUNT:
            return Availability(False, _("The amount cannot exceed ¥%(max)s.") % {"max": f"{MAX_AMOUNT:,}"})
        if new == current:
            return Availability(False, _("The new amount is the same as the current amount (¥%(amount)s); "
                                         "there is nothing to change.") % {"amount": f"{current:,}"})
    if facts.status == S.CAPTURED:
        if facts.captured_at is None:
            return Availability(False, _(
                "The capture date is unknown, so the amount-change period cannot be checked. Check the "
                "status with the PG first."))
        window = amount_change_window(facts.captured_at, facts.now)
        if not window.allowed:
            return Availability(False, window.reason)
    if new is not None and new > current:
        amounts = {"current": f"{current:,}", "new": f"{new:,}"}
        # SPEC over seed: seed 002 states the points-only rule as a footnote under 決済完了, after "仮売上:
        # no limit". SPEC 3.2 applies it in 仮売上 as well as 決済完了.
        if facts.points_only:
            return Availability(False, _(
                "This order was paid with points only, so its amount can never be increased "
                "(current ¥%(current)s, requested ¥%(new)s).") % amounts)
        if facts.status == S.CAPTURED:
            # SPEC: measured against the current amount, after any earlier decrease, not the original one.
            return Availability(False, _(
                "After the payment is completed (決済完了) the amount can only be decreased: it cannot go above "
                "the current ¥%(current)s (requested ¥%(new)s).") % amounts)
    return Availability(True)


def _change_amount(facts: WalletFacts) -> Availability:
    return _amount_change(facts)


def _send_amount_change(facts: WalletFacts) -> Availability:
    # Seed 002: the button cannot be clicked when nothing changed or the change was already sent.
    if not facts.unsent_change:
        return Availability(False, _("There is no unsent amount change to send to the PG."))
    return _amount_change(facts)


def _extend_authorization(facts: WalletFacts) -> Availability:
    if facts.status != S.AUTHORIZED:
        return Availability(False, _("Only an authorized (仮売上) order's authorization period can be extended."))
    if not facts.extension_enabled:
        return Availability(False, _(
            "Authorization extension is not enabled for this shop (wallet settings: オーソリ期間延長設定)."))
    return Availability(True)


def _change_payment_method(facts: WalletFacts) -> Availability:
    if facts.status not in CHANGE_METHOD_FROM:
        return Availability(False, _(
            "The payment method can be changed only from 要確認, 決済失敗, 仮売上期限切れ or 注文キャンセル."))
    # SPEC 3.2: from 注文キャンセル only while the goods are unshipped (taken strictly: shipped goods that
    # came back do not count as unshipped). "Nothing live at the PG" is the caller's query, see
    # needs_gateway_check_before().
    if facts.status == S.CANCELLED and facts.shipped:
        return Availability(False, _(
            "The goods have been shipped, so this cancelled order cannot be switched to another payment method."))
    return Availability(True)


def _mark_shipped(facts: WalletFacts) -> Availability:
    if facts.status != S.CAPTURED:
        return Availability(False, _("Only an order whose payment is completed (決済完了) can be marked shipped; "
                                     "capture it first."))
    return Availability(True)


_CHECKS = {
    Op.CAPTURE: _capture,
    Op.CANCEL: _cancel,
    Op.CHANGE_AMOUNT: _change_amount,
    Op.EXTEND_AUTHORIZATION: _extend_authorization,
    Op.CHANGE_PAYMENT_METHOD: _change_payment_method,
    Op.MARK_SHIPPED: _mark_shipped,
    Op.SEND_AMOUNT_CHANGE: _send_amount_change,
}


# --- the PG's status words -----------------------------------------------------------------------------


def gmo_status_to_wallet_status(status_word: str, has_unsent: bool = False, *,
                                table: Mapping[str, str] | None = None) -> str:
    """Map a GMO redirect-wallet status word (SearchTradeMulti `Status`) to a WalletStatus value.

    UNPROCESSED / REQSUCCESS / AUTHPROCESS -> 要確認 (the customer has not completed the wallet page, or the
    link failed mid-way); AUTH -> 仮売上; CAPTURE / SALES -> 決済完了; CANCEL -> 注文キャンセル;
    PAYFAIL -> 決済失敗; EXPIRED -> 仮売上期限切れ. 売上失敗 is never a PG word: it is our record of a failed
    capture, and the sync replaces it by whatever the PG says (seed 002: restored to 仮売上 / 決済完了).

    `has_unsent` (an amount change edited here but not sent) does not change what the PG's word means:
    the PG still holds the old amount in that state. It is accepted so callers can pass it, and the flag
    stays on the order, where availability() blocks capture until the change is sent.

    `table` replaces GMO_WALLET_STATUS (the words are a sandbox assumption and may need correcting).
    An unknown word raises ValueError: never guess a payment state.
    """
    word = (status_word or "").strip().upper()
    mapping = GMO_WALLET_STATUS if table is None else table
    try:
        return mapping[word]
    except KeyError:
        raise ValueError(f"unknown wallet status word from the PG: {status_word!r}") from None
