"""Reads for the admin dashboard, and the "needs attention" definitions the payment list shares.

Everything here is a database expression: the list filters, the list's attention column and the
dashboard counts use the same definitions, so a dashboard figure and the list its link opens agree.

Needs attention (要対応):
- unresolved: a `pending` or `unknown` operation other than a status check exists (the payment is busy
  until the sync resolves it).
- capture_failed (売上失敗): the payment is still 仮売上 and has a failed capture with no succeeded
  operation (other than a status check) after it. Operations of one payment never overlap (the ledger
  refuses to start one while another is unresolved), so "after" is "higher id".
- expiring (shop's warning period) / expiring_N: 仮売上 whose `authorization_expires_at` is in
  (now, now + the shop's `expiry_warning_days`] or (now, now + N days]; the same window as the expiry
  warning batch (batches.expiry.expiring_soon).
- expired: 仮売上期限切れ, or still 仮売上 past `authorization_expires_at` (the expiry batch has not
  marked it yet).

Today's money (the Asia/Tokyo calendar day of the operation's start, `created_at`, indexed with state):
- captured: succeeded operations that charged the card: capture (実売上 SALES); authorize,
  re-authorize or amount change from 仮売上 with 即時売上 (CAPTURE), each for its amount; and the
  increase of an amount change of a sale (counted for the difference).
- refunded: succeeded operations that gave charged money back: a cancel (取消・返品・月跨返品) of a
  captured payment, for the amount it refunded; and the decrease of an amount change of a sale (for the
  difference). Cancelling a 仮売上 only releases the authorization (nothing was charged): not a refund.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from payments.card_rules import JST
from payments.models import (
    LIVE_CAPTURED,
    OperationKind,
    OperationState,
    Payment,
    PaymentOperation,
    Status,
)
from shops.selectors import shops_for_user

UNRESOLVED = "unresolved"
CAPTURE_FAILED = "capture_failed"
EXPIRING = "expiring"  # within the shop's own warning period
EXPIRED = "expired"
EXPIRING_DAYS = (3, 7, 14)
DASHBOARD_ATTENTION = (UNRESOLVED, CAPTURE_FAILED, EXPIRING, EXPIRED)
SHOP_NAMES_SHOWN = 5


def attention_choices() -> list[tuple[str, str]]:
    """(value, label) of every "needs attention" choice, labels in the active language."""
    return [
        (UNRESOLVED, _("Unresolved operation")),
        (CAPTURE_FAILED, _("Capture failed")),
        (EXPIRING, _("Authorization expiring (shop's warning period)")),
        *[(f"expiring_{days}", _("Authorization expires within %(days)s days") % {"days": days})
          for days in EXPIRING_DAYS],
        (EXPIRED, Status.AUTH_EXPIRED.label),
    ]


def unresolved_operation_exists() -> Exists:
    return Exists(PaymentOperation.objects.unresolved().filter(payment=OuterRef("pk")))


def failed_capture_exists() -> Exists:
    later_success = (PaymentOperation.objects
                     .filter(payment=OuterRef("payment"), state=OperationState.SUCCEEDED, id__gt=OuterRef("id"))
                     .exclude(kind=OperationKind.SYNC))
    return Exists(PaymentOperation.objects
                  .filter(payment=OuterRef("pk"), kind=OperationKind.CAPTURE, state=OperationState.FAILED)
                  .filter(~Exists(later_success)))


def shop_warning_limit(now: datetime) -> ExpressionWrapper:
    """now + the payment's shop's expiry_warning_days, as one expression (PostgreSQL and SQLite)."""
    days = ExpressionWrapper(Cast("shop__expiry_warning_days", IntegerField())
                             * Value(timedelta(days=1), output_field=DurationField()),
                             output_field=DurationField())
    return ExpressionWrapper(Value(now, output_field=DateTimeField()) + days, output_field=DateTimeField())


def _expiring(now: datetime, limit) -> Q:
    return Q(status=Status.AUTHORIZED, authorization_expires_at__gt=now, authorization_expires_at__lte=limit)


def attention_condition(choice: str | None, now: datetime) -> Q | None:
    """The filter of a "needs attention" choice on Payment, or None for an unknown choice."""
    if choice == UNRESOLVED:
        return Q(unresolved_operation_exists())
    if choice == CAPTURE_FAILED:
        # A wallet keeps the failure as its own status (売上失敗); a card stays 仮売上 with a failed capture.
        return Q(status=Status.CAPTURE_FAILED) | Q(status=Status.AUTHORIZED) & Q(failed_capture_exists())
    if choice == EXPIRING:
        return _expiring(now, shop_warning_limit(now))
    if choice == EXPIRED:
        return Q(status=Status.AUTH_EXPIRED) | Q(status=Status.AUTHORIZED, authorization_expires_at__lte=now)
    for days in EXPIRING_DAYS:
        if choice == f"expiring_{days}":
            return _expiring(now, now + timedelta(days=days))
    return None


# --- the list's attention column ------------------------------------------------------------------

def annotate_attention(queryset):
    """Add what the attention column needs as two EXISTS columns (no query per row)."""
    return queryset.annotate(attention_unresolved=unresolved_operation_exists(),
                             attention_capture_failed=failed_capture_exists())


def attention_of(payment: Payment, now: datetime) -> list[str]:
    """The attention choices one payment (annotated by annotate_attention, shop loaded) falls under."""
    found = []
    if getattr(payment, "attention_unresolved", False):
        found.append(UNRESOLVED)
    authorized = payment.status == Status.AUTHORIZED
    if payment.status == Status.CAPTURE_FAILED or authorized and getattr(payment, "attention_capture_failed", False):
        found.append(CAPTURE_FAILED)
    expires = payment.authorization_expires_at
    if authorized and expires and now < expires <= now + timedelta(days=payment.shop.expiry_warning_days):
        found.append(EXPIRING)
    if payment.status == Status.AUTH_EXPIRED or (authorized and expires and expires <= now):
        found.append(EXPIRED)
    return found


# --- dashboard ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Money:
    count: int
    yen: int


@dataclass(frozen=True)
class LinkedFigure:
    """A business app's "needs attention" count, with the link to its own filtered list."""

    key: str
    label: str
    count: int
    url: str


# Business apps add their "needs attention" counts here (e.g. reservations whose konbini payment expired
# while they stay confirmed): payments knows no reservation, so each app registers a function
# (user's shops, now) -> LinkedFigure, one query each.
AttentionSource = Callable[[object, datetime], LinkedFigure]
ATTENTION_SOURCES: list[AttentionSource] = []


def register_attention_source(source: AttentionSource) -> AttentionSource:
    if source not in ATTENTION_SOURCES:
        ATTENTION_SOURCES.append(source)
    return source


@dataclass(frozen=True)
class Dashboard:
    day: date
    shop_names: list[str]
    more_shops: bool
    total: int
    statuses: list[Figure]
    attention: list[Figure]
    captured: Money
    refunded: Money
    business_attention: list[LinkedFigure] = field(default_factory=list)


def jst_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=JST)
    return start, start + timedelta(days=1)


def _charged_conditions() -> tuple[Q, Q]:
    """(charged the operation's whole amount, charged the increase over previous_amount)."""
    job_capture = Q(gateway_job="CAPTURE")
    whole = (Q(kind=OperationKind.CAPTURE)
             | Q(kind__in=[OperationKind.AUTHORIZE, OperationKind.REAUTHORIZE]) & job_capture
             | Q(kind=OperationKind.CHANGE_AMOUNT, status_before=Status.AUTHORIZED) & job_capture)
    increase = Q(kind=OperationKind.CHANGE_AMOUNT, status_before__in=LIVE_CAPTURED,
                 amount__gt=F("previous_amount")) & job_capture
    return whole, increase


def _refunded_conditions() -> tuple[Q, Q]:
    """(refunded the operation's whole amount, refunded the decrease below previous_amount)."""
    whole = Q(kind=OperationKind.CANCEL, status_before__in=LIVE_CAPTURED)
    decrease = Q(kind=OperationKind.CHANGE_AMOUNT, gateway_job="CAPTURE", status_before__in=LIVE_CAPTURED,
                 amount__lt=F("previous_amount"))
    return whole, decrease


def _yen(whole: Q, part: Q, part_amount) -> Sum:
    return Sum(Case(When(whole, then=F("amount")), When(part, then=part_amount), default=Value(0),
                    output_field=IntegerField()), default=0)


def money_today(shops, now: datetime) -> tuple[Money, Money]:
    """Today's (Asia/Tokyo) captured and refunded money of these shops: one query."""
    start, end = jst_day_bounds(timezone.localtime(now, JST).date())
    charged, increase = _charged_conditions()
    refunded, decrease = _refunded_conditions()
    row = (PaymentOperation.objects
           .filter(state=OperationState.SUCCEEDED, created_at__gte=start, created_at__lt=end,
                   payment__shop__in=shops)
           .aggregate(captured_count=Count("id", filter=charged | increase),
                      captured_yen=_yen(charged, increase, F("amount") - F("previous_amount")),
                      refunded_count=Count("id", filter=refunded | decrease),
                      refunded_yen=_yen(refunded, decrease, F("previous_amount") - F("amount"))))
    return (Money(row["captured_count"], row["captured_yen"]),
            Money(row["refunded_count"], row["refunded_yen"]))


def payment_counts(shops, now: datetime) -> tuple[list[Figure], list[Figure]]:
    """Counts by status and by "needs attention" choice of these shops' payments: one query."""
    labels = dict(attention_choices())
    aggregates = {f"status_{value}": Count("id", filter=Q(status=value)) for value in Status.values}
    aggregates |= {f"attention_{key}": Count("id", filter=attention_condition(key, now))
                   for key in DASHBOARD_ATTENTION}
    row = Payment.objects.filter(shop__in=shops).aggregate(**aggregates)
    statuses = [Figure(value, label, row[f"status_{value}"]) for value, label in Status.choices]
    attention = [Figure(key, labels[key], row[f"attention_{key}"]) for key in DASHBOARD_ATTENTION]
    return statuses, attention


def dashboard_for(user, now: datetime | None = None) -> Dashboard | None:
    """The dashboard of the user's shops (three queries, plus one per attention source, whatever the data),
    or None without shops."""
    now = now or timezone.now()
    shops = shops_for_user(user)
    names = list(shops.order_by("name").values_list("name", flat=True)[:SHOP_NAMES_SHOWN + 1])
    if not names:
        return None
    statuses, attention = payment_counts(shops, now)
    captured, refunded = money_today(shops, now)
    return Dashboard(day=timezone.localtime(now, JST).date(), shop_names=names[:SHOP_NAMES_SHOWN],
                     more_shops=len(names) > SHOP_NAMES_SHOWN, total=sum(f.count for f in statuses),
                     statuses=statuses, attention=attention, captured=captured, refunded=refunded,
                     business_attention=[source(shops, now) for source in ATTENTION_SOURCES])
