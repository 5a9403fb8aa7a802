"""The webhook's task on a real Celery worker (Redis broker, not eager): Stripe's event reaches our endpoint,
which only records it and enqueues; the worker asks Stripe and marks the payment paid."""

from __future__ import annotations

import pytest
from celery.signals import task_prerun

from gateways.sandbox.stripe_konbini import DEFAULT_KEYS
from payments.models import Status, StripeEvent
from reservations import payment_flow
from reservations.models import AcceptanceMode
from reservations.models import Status as R
from tests.reservations.helpers import SYSTEM, make_slot

from .conftest import WEBHOOK_SECRET
from .flow_helpers import event_of, fresh, mails_of, notified_staff, payment_of, transitions, wait_for

pytestmark = pytest.mark.redis


def test_webhook_task_runs_on_the_worker_and_marks_paid(celery_worker, konbini_shop, sandbox, live_server):
    assert celery_worker.conf.task_always_eager is False
    runs: list[tuple[str, bool, str | None]] = []

    def seen(sender=None, task=None, args=None, **kwargs):
        if sender.name == "payments.process_stripe_event":
            runs.append((args[0], bool(task.request.is_eager), task.request.hostname))

    task_prerun.connect(seen, weak=False)
    try:
        sandbox.stripe_set_webhook(f"{live_server.url}/gateways/stripe/webhook/{konbini_shop.code}/",
                                   WEBHOOK_SECRET, api_key=DEFAULT_KEYS[0], interval_seconds=0.05)
        notified_staff(konbini_shop)
        slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=1800)
        reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", by=SYSTEM,
                                        payment_method="konbini")
        payment = payment_of(reservation)
        assert payment.status == Status.AWAITING_PAYMENT

        sandbox.stripe_pay(payment.external_id)

        assert wait_for(lambda: fresh(payment).status == Status.PAID, timeout=20), fresh(payment).status
        succeeded = event_of(sandbox, "payment_intent.succeeded", payment.external_id)
        assert wait_for(lambda: StripeEvent.objects.get(event_id=succeeded["id"]).processed_at is not None)
        row = StripeEvent.objects.get(event_id=succeeded["id"])
        assert "paid" in row.result
        worker_runs = [r for r in runs if r[0] == row.pk]
        assert worker_runs and all(not eager and hostname for _pk, eager, hostname in worker_runs), runs
        assert len(transitions(payment, Status.PAID)) == 1
        assert wait_for(lambda: len(mails_of("konbini_paid", payment)) == 1)
        assert fresh(reservation).status == R.CONFIRMED
    finally:
        task_prerun.disconnect(seen)
