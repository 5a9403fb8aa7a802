"""Reads of the bulk app: runs a user may see, and a run's items shaped for the table and the CSV."""

from __future__ import annotations

from django.db.models import F, QuerySet

from bulk.models import BulkRun, BulkRunItem
from payments.card_rules import JOB_LABELS
from shops.selectors import user_can

# ?state= filters of the item table; "remaining" is both open states.
STATE_FILTERS = {
    "succeeded": (BulkRunItem.State.SUCCEEDED,),
    "failed": (BulkRunItem.State.FAILED,),
    "skipped": (BulkRunItem.State.SKIPPED,),
    "remaining": BulkRunItem.OPEN_STATES,
}


def runs_for_user(user) -> QuerySet[BulkRun]:
    return BulkRun.objects.visible_to(user)


def may_resume(user, run: BulkRun) -> bool:
    # Resuming acts on every shop of the run: the user must hold the run's permission in each.
    return all(user_can(user, shop_id, run.perm) for shop_id in run.shops.values_list("pk", flat=True))


def item_rows(run: BulkRun, state: str | None = None) -> QuerySet:
    """Plain rows (one query per page, whatever the run's size): payment ids joined, no model objects."""
    items = run.items.all()
    if state in STATE_FILTERS:
        items = items.filter(state__in=STATE_FILTERS[state])
    return items.order_by("pk").values(
        "pk", "payment_id", "state", "gateway_job", "gateway_code", "message", "processed_at",
        order_id=F("payment__gateway_order_id"), reference=F("payment__reference"))


def state_labels() -> dict[str, str]:
    return {value: str(label) for value, label in BulkRunItem.State.choices}


def labelled(row: dict, states: dict[str, str]) -> dict:
    """Add the operator-facing labels to a row of item_rows (pure: no query)."""
    return {**row, "state_label": states.get(row["state"], row["state"]),
            "job_label": JOB_LABELS.get(row["gateway_job"], row["gateway_job"])}
