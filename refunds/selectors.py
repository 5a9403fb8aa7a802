"""Which manual refund tasks need attention: one definition for the list's filter and the dashboard figures,
so a dashboard count and the list its link opens always agree."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from refunds.models import RefundTaskStatus

ATTENTION_PARAM = "attention"
PENDING, TO_REFUND, TO_CONFIRM = "pending", "to_refund", "to_confirm"

CONDITIONS = {
    # Listed until confirmed (SPEC 7): still to refund, or refunded and waiting for the second person.
    PENDING: Q(status__in=[RefundTaskStatus.OPEN, RefundTaskStatus.REFUNDED]),
    TO_REFUND: Q(status=RefundTaskStatus.OPEN),
    TO_CONFIRM: Q(status=RefundTaskStatus.REFUNDED),
}


def attention_choices() -> list[tuple[str, str]]:
    return [(PENDING, _("Not confirmed yet (all)")),
            (TO_REFUND, _("Manual refunds to do")),
            (TO_CONFIRM, _("Manual refunds to confirm"))]


def attention_condition(choice: str | None) -> Q | None:
    """The filter of a "needs attention" choice, or None for an unknown one (the list then shows everything)."""
    return CONDITIONS.get(choice or "")
