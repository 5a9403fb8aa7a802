"""Helpers of the bulk tests: payments without the gateway, the admin action flow, runs, sandbox calls."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from bulk.admin_actions import ACTION_NAMES
from bulk.selection import summarize
from bulk.services import start_run
from payments.models import Method, Payment, Status


def changelist() -> str:
    return reverse("admin:payments_payment_changelist")


def rows(shop, n: int, *, amount: int = 1000, status: str = Status.AUTHORIZED, days_ago: int = 0,
         captured: bool = False) -> list[Payment]:
    """Payments written directly (no gateway): enough for confirm pages, scoping and query counts."""
    at = timezone.now() - timedelta(days=days_ago)
    payments = [
        Payment(shop=shop, method=Method.CARD, status=status, amount=amount, gateway_order_id=uuid.uuid4().hex[:20],
                reference=f"REF-{uuid.uuid4().hex[:6]}", authorized_at=at,
                authorization_expires_at=at + timedelta(days=shop.authorization_validity_days),
                captured_at=at if captured else None, captured_amount=amount if captured else 0)
        for _ in range(n)
    ]
    return Payment.objects.bulk_create(payments)


def post_action(client, action: str, ids, *, select_across: bool = False, query: str = ""):
    data = {"action": ACTION_NAMES.get(action, action), "index": "0", "select_across": "1" if select_across else "0",
            "_selected_action": [str(pk) for pk in ids]}
    return client.post(f"{changelist()}{query}", data)


def confirm_data(response) -> dict:
    """The confirm form of a rendered confirm page, as the browser would post it."""
    ctx = response.context
    return {"action": ctx["action_name"], "index": "0", "select_across": "1" if ctx["select_across"] else "0",
            "_selected_action": ctx["selected_ids"], "bulk_confirm": "1", "request_key": str(ctx["request_key"]),
            "fingerprint": ctx["summary"].fingerprint, "cutoff": str(ctx["summary"].cutoff)}


def make_run(user, kind: str, queryset, **kwargs):
    """A run created as the confirmed admin action would, without queuing the task."""
    summary = summarize(kind, queryset, user, timezone.now())
    return start_run(kind=kind, queryset=queryset, user=user, request_key=uuid.uuid4(),
                     fingerprint=summary.fingerprint, cutoff=summary.cutoff, description="test",
                     enqueue_task=False, **kwargs)


def sales_calls(sandbox) -> list[dict]:
    return [c for c in sandbox.calls("AlterTran") if c["params"].get("JobCd") == "SALES"]


def jobs(summary) -> dict[str, tuple[int, int]]:
    return {line.job: (line.count, line.total) for line in summary.job_lines}
