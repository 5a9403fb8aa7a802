"""Pure rules for GMO card payments (SPEC 3.1): which operations are allowed, and which cancel job.

No database, no gateway: every function takes plain values, so the whole table is unit-testable at
Asia/Tokyo day and month boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from payments.models import CANCELLED, LIVE_CAPTURED, OperationKind, Status

JST = ZoneInfo("Asia/Tokyo")
MAX_AMOUNT = 9_999_999  # GMO Amount: 7 digits at most


def jst_date(moment: datetime) -> date:
    return moment.astimezone(JST).date()


def same_month(a: date, b: date) -> bool:
    return (a.year, a.month) == (b.year, b.month)


@dataclass(frozen=True)
class CancelJob:
    job: str  # VOID / RETURN / RETURNX
    reason: str


def choose_cancel_job(status: str, authorized_at: datetime | None, captured_at: datetime | None,
                      now: datetime) -> CancelJob:
    """Pick 取消 / 返品 / 月跨返品 from Asia/Tokyo calendar dates, and say why.

    Seed 004 makes the operator pick by hand; a wrong pick charges the customer or fails.
    """
    today = jst_date(now)
    auth_day = jst_date(authorized_at) if authorized_at else today
    if status in (Status.AUTHORIZED, Status.AUTH_EXPIRED):
        if auth_day == today:
            return CancelJob("VOID", _("the authorization was made today (%(day)s, JST)") % {"day": auth_day})
        return CancelJob("RETURN", _("the authorization was made on an earlier day (%(day)s, JST)")
                         % {"day": auth_day})
    if status in LIVE_CAPTURED:
        capture_day = jst_date(captured_at) if captured_at else auth_day
        if auth_day == today and capture_day == today:
            return CancelJob("VOID", _("the sale was made today (%(day)s, JST)") % {"day": capture_day})
        if same_month(capture_day, today):
            return CancelJob("RETURN", _("the sale was made on %(day)s, earlier this month (JST)")
                             % {"day": capture_day})
        return CancelJob("RETURNX", _("the sale was made on %(day)s, in an earlier month (JST)")
                         % {"day": capture_day})
    raise ValueError(f"no cancel job for status {status}")


JOB_LABELS = {
    "VOID": "取消 (VOID)",
    "RETURN": "返品 (RETURN)",
    "RETURNX": "月跨返品 (RETURNX)",
    "SALES": "実売上 (SALES)",
    "AUTH": "仮売上 (AUTH)",
    "CAPTURE": "即時売上 (CAPTURE)",
}


def authorization_expires_at(authorized_at: datetime, validity_days: int) -> datetime:
    return authorized_at + timedelta(days=validity_days)


def is_authorization_expired(authorized_at: datetime | None, validity_days: int, now: datetime) -> bool:
    return bool(authorized_at) and now >= authorization_expires_at(authorized_at, validity_days)


@dataclass(frozen=True)
class Availability:
    allowed: bool
    reason: str = ""


def availability(kind: str, status: str, *, authorized_at: datetime | None, validity_days: int,
                 now: datetime) -> Availability:
    """Is `kind` allowed on a card payment in `status`? If not, say why in the operator's words."""
    no = Availability
    if kind == OperationKind.CAPTURE:
        if status != Status.AUTHORIZED:
            return no(False, _("Only an authorized (仮売上) payment can be captured."))
        if is_authorization_expired(authorized_at, validity_days, now):
            return no(False, _("The authorization is older than %(days)s days and can no longer be captured. "
                               "Re-authorize (after cancelling) or cancel it.") % {"days": validity_days})
        return no(True)
    if kind == OperationKind.CANCEL:
        if status in (Status.AUTHORIZED, Status.AUTH_EXPIRED, *LIVE_CAPTURED):
            return no(True)
        return no(False, _("Only a live authorization or sale can be cancelled."))
    if kind == OperationKind.CHANGE_AMOUNT:
        if status == Status.AUTHORIZED and is_authorization_expired(authorized_at, validity_days, now):
            return no(False, _("The authorization has expired; its amount cannot be changed."))
        if status in (Status.AUTHORIZED, *LIVE_CAPTURED):
            return no(True)
        return no(False, _("Only an authorized or captured payment can change its amount."))
    if kind == OperationKind.REAUTHORIZE:
        if status in CANCELLED:
            return no(True)
        return no(False, _("Only a cancelled (取消・返品・月跨返品) payment can be re-authorized."))
    if kind == OperationKind.EXPIRE:
        if status != Status.AUTHORIZED:
            return no(False, _("Only an authorized payment can expire."))
        if not is_authorization_expired(authorized_at, validity_days, now):
            return no(False, _("The authorization is still within its validity period."))
        return no(True)
    return no(False, _("Unknown operation."))


def change_amount_jobs(status: str) -> tuple[str, ...]:
    """Follow-ups offered after an amount change (SPEC 3.1)."""
    if status == Status.AUTHORIZED:
        return ("AUTH", "CAPTURE")
    # Turning a sale back into an authorization risks never collecting it.
    if status in LIVE_CAPTURED:
        return ("CAPTURE",)
    return ()
