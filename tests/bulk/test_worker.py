"""Bulk capture end to end: the admin action and its confirm page, then a REAL Celery worker (Redis)."""

import time

import pytest

from bulk.models import BulkRun
from payments.models import Payment, Status
from tests.bulk.helpers import changelist, confirm_data, post_action, sales_calls
from tests.factories import card_payment

pytestmark = pytest.mark.redis


def wait_until_done(run_id: int, timeout: float = 90) -> BulkRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = BulkRun.objects.get(pk=run_id)
        if run.status == BulkRun.Status.DONE:
            return run
        time.sleep(0.2)
    raise AssertionError(f"bulk run {run_id} not done after {timeout}s: {run.counts()}")


def test_fifty_captures_through_the_admin_and_a_celery_worker(celery_worker, client, shop, sandbox, operator):
    payments = [card_payment(shop, sandbox, amount=1000 + i, reference=f"ORDER-{i}") for i in range(50)]
    sandbox.clear_calls()
    client.force_login(operator)

    confirm = post_action(client, "capture", [p.pk for p in payments])
    assert confirm.context["summary"].included == 50
    response = client.post(changelist(), confirm_data(confirm))  # commits, then queues the task

    assert response.status_code == 302
    run = wait_until_done(BulkRun.objects.get().pk)
    assert run.counts() == {"total": 50, "done": 50, "failed": 0, "skipped": 0, "remaining": 0}
    assert len(sales_calls(sandbox)) == 50
    assert len(sandbox.calls("AlterTran")) == 50
    assert set(Payment.objects.values_list("status", flat=True)) == {Status.CAPTURED}
    progress = client.get(response["Location"]).content.decode()
    assert 'id="bulk-done">50<' in progress and 'data-status="done"' in progress
