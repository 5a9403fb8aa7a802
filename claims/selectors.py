"""Read-only claim queries: the claim board's counts (SPEC 4.4) and withdrawal requests whose deadline passed."""

from __future__ import annotations

from typing import NamedTuple

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from claims.models import OPEN_STATES, Claim, ClaimKind, ClaimState, RefundState

OPEN = ",".join(OPEN_STATES)
# The board's custom filter parameter (the admin's list filter applies it with `withdrawal_filter`).
WITHDRAWAL_PARAM = "withdrawal"
RUNNING, EXPIRED = "running", "expired"


class BoardRow(NamedTuple):
    key: str
    label: str
    count: int
    query: str  # the admin changelist's query string for exactly these claims


def _withdrawal(value: str, now) -> Q:
    q = Q(state=ClaimState.WITHDRAWAL_REQUESTED)
    return q & (Q(withdrawal_deadline__gt=now) if value == RUNNING else Q(withdrawal_deadline__lte=now))


def _rows(now) -> list[tuple[str, object, Q, str]]:
    """(key, label, condition, query string) per board row, in SPEC 4.4's order."""
    def kind_state(kind, state):
        return Q(kind=kind, state=state), f"kind={kind}&state={state}"

    rows = [
        ("cancel_requested", _("Cancel requested"), *kind_state(ClaimKind.CANCEL, ClaimState.REQUESTED)),
        ("cancel_in_progress", _("Cancel in progress"), *kind_state(ClaimKind.CANCEL, ClaimState.IN_PROGRESS)),
        ("cancel_done", _("Cancel done"), *kind_state(ClaimKind.CANCEL, ClaimState.DONE)),
        ("return_requested", _("Return requested"), *kind_state(ClaimKind.RETURN, ClaimState.REQUESTED)),
        ("return_in_progress", _("Return in progress"), *kind_state(ClaimKind.RETURN, ClaimState.IN_PROGRESS)),
        ("return_done", _("Return done"), *kind_state(ClaimKind.RETURN, ClaimState.DONE)),
        ("exchange", _("Exchange"), Q(kind=ClaimKind.EXCHANGE, state__in=OPEN_STATES),
         f"kind={ClaimKind.EXCHANGE}&state__in={OPEN}"),
        ("non_receipt", _("Non-receipt"), Q(kind=ClaimKind.NON_RECEIPT, state__in=OPEN_STATES),
         f"kind={ClaimKind.NON_RECEIPT}&state__in={OPEN}"),
        # 撤回要請: the deadline is running; 撤回保留: it passed and the request waits for staff.
        ("withdrawal_requested", _("Withdrawal requested"), _withdrawal(RUNNING, now),
         f"{WITHDRAWAL_PARAM}={RUNNING}"),
        ("withdrawal_pending", _("Withdrawal pending (deadline passed)"), _withdrawal(EXPIRED, now),
         f"{WITHDRAWAL_PARAM}={EXPIRED}"),
        ("cancel_refused", _("Cancel refused"), *kind_state(ClaimKind.CANCEL, ClaimState.REFUSED)),
        ("refund_done", _("Refund done"), Q(refund_state=RefundState.DONE), f"refund_state={RefundState.DONE}"),
        ("partial_refund_done", _("Partial refund done"), Q(refund_state=RefundState.PARTIAL),
         f"refund_state={RefundState.PARTIAL}"),
    ]
    return rows


def _scoped(shops) -> QuerySet:
    qs = Claim.objects.all()
    if shops is not None:
        qs = qs.filter(shop__in=shops)
    return qs


def board_counts(shops, *, now=None) -> list[BoardRow]:
    """The claim board: one count per row, all in one aggregate query. `shops`: Shop queryset / ids (None = all)."""
    now = now or timezone.now()
    rows = _rows(now)
    counts = _scoped(shops).aggregate(**{key: Count("pk", filter=cond) for key, _label, cond, _q in rows})
    return [BoardRow(key, str(label), counts[key] or 0, query) for key, label, _cond, query in rows]


def withdrawal_filter(queryset: QuerySet, value: str, *, now=None) -> QuerySet:
    """The admin list filter for `?withdrawal=running|expired`."""
    if value not in (RUNNING, EXPIRED):
        return queryset
    return queryset.filter(_withdrawal(value, now or timezone.now()))


def expired_withdrawals(shops, *, now=None) -> QuerySet:
    """Withdrawal requests whose deadline passed without an answer from the customer: staff decide now."""
    return (_scoped(shops).filter(_withdrawal(EXPIRED, now or timezone.now()))
            .select_related("order", "shop").order_by("withdrawal_deadline", "id"))
