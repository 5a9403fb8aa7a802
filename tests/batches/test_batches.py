"""Scheduled batches: authorization expiry, gateway status sync, reconciliation, run log, lock."""

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from batches import fanout
from batches.expiry import run_authorization_expiry
from batches.models import BatchRun, DigestSent, ReconciliationItem
from batches.status_sync import run_status_sync
from batches.tasks import authorization_expiry, gateway_status_sync
from payments import services
from payments.actors import Actor
from payments.errors import OutcomeUnknown
from payments.models import OperationKind, OperationState, Payment, Status
from tests.factories import card_payment, member

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


@pytest.fixture
def staff_with_mail(shop):
    user = member(shop, "staff")
    user.email = "staff@example.jp"
    user.save()
    return user


def later(days):
    return time_machine.travel(timezone.now() + timedelta(days=days), tick=True)


def test_85_day_old_authorization_is_in_the_warning_digest(shop, sandbox, staff_with_mail):
    payment = card_payment(shop, sandbox, reference="ORDER-85")
    fresh = card_payment(shop, sandbox, reference="ORDER-FRESH")
    with later(85):
        fresh_at = timezone.now() - timedelta(days=1)
        Payment.objects.filter(pk=fresh.pk).update(
            authorized_at=fresh_at, authorization_expires_at=fresh_at + timedelta(days=90))
        report = run_authorization_expiry()
        run_authorization_expiry()  # a second run the same day sends nothing more
    assert report.processed == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["staff@example.jp"] and "1件" in message.subject
    assert "ORDER-85" in message.body and "ORDER-FRESH" not in message.body
    assert f"/admin/payments/payment/{payment.pk}/change/" in message.body
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTHORIZED
    assert DigestSent.objects.count() == 1


def test_91_day_old_authorization_expires_only_after_the_gateway_says_auth(shop, sandbox):
    payment = card_payment(shop, sandbox)
    with later(91):
        run_authorization_expiry()
    payment.refresh_from_db()
    assert payment.status == Status.AUTH_EXPIRED
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "AUTH"
    apis = [c["api"] for c in sandbox.calls()]
    assert apis[-1] == "SearchTrade" and "AlterTran" not in apis  # asked, never acted
    expire = payment.operations.get(kind=OperationKind.EXPIRE)
    assert expire.actor_label == "system: authorization expiry batch"


def test_no_expiry_when_the_gateway_cannot_be_asked(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "SearchTrade", "action": "error", "err_code": "E92",
                               "err_info": "E92000001", "times": None}])
    with later(91):
        report = run_authorization_expiry()
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTHORIZED
    assert report.failed == 1


def test_91_days_but_captured_at_the_gateway_is_synced_instead(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.patch_transaction(payment.gateway_order_id, status="SALES")
    with later(91):
        run_authorization_expiry()
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED
    assert not payment.operations.filter(kind=OperationKind.EXPIRE).exists()


def test_dropped_capture_is_resolved_by_the_sync_batch(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
    with pytest.raises(OutcomeUnknown):
        services.capture_payment(payment, by=SYSTEM)
    report = run_status_sync()
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED
    assert payment.operations.get(kind=OperationKind.CAPTURE).state == OperationState.SUCCEEDED
    assert len(sandbox.calls("AlterTran")) == 1
    assert report.processed >= 1 and any("applied at the gateway" in line for line in report.lines)


def test_amount_disagreement_goes_to_the_reconciliation_report(shop, sandbox):
    payment = card_payment(shop, sandbox, amount=3000)  # just authorized: a recent change
    sandbox.patch_transaction(payment.gateway_order_id, amount=2800)
    run_status_sync()
    payment.refresh_from_db()
    assert payment.amount == 3000 and payment.status == Status.AUTHORIZED
    item = ReconciliationItem.objects.get(payment=payment)
    assert item.kind == ReconciliationItem.Kind.AMOUNT and "2,800" in item.detail
    # Seen again later: still one open item, not a new one per run.
    services.sync_payment(payment, actor=SYSTEM)
    Payment.objects.filter(pk=payment.pk).update(last_synced_at=None)
    run_status_sync()
    assert ReconciliationItem.objects.filter(payment=payment).count() == 1


def test_sync_batch_skips_payments_with_nothing_new(shop, sandbox):
    card_payment(shop, sandbox)
    run_status_sync()
    searches = len(sandbox.calls("SearchTrade"))
    run_status_sync()
    assert len(sandbox.calls("SearchTrade")) == searches  # already checked since the last change


def test_one_failing_payment_does_not_stop_the_run(shop, other_shop, sandbox):
    good = card_payment(shop, sandbox)
    bad = card_payment(other_shop, sandbox)
    other_shop.set_gmo_shop_pass("wrong-pass")
    other_shop.save()
    report = run_status_sync()
    assert report.failed == 1 and report.processed == 1
    assert Payment.objects.get(pk=good.pk).last_synced_at is not None
    assert Payment.objects.get(pk=bad.pk).last_synced_at is None
    assert any(bad.gateway_order_id in line for line in report.lines)


def test_a_lost_read_is_retried(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "SearchTrade", "action": "drop_response", "times": 1}])
    report = run_status_sync()
    assert report.processed == 1 and report.failed == 0
    assert len(sandbox.calls("SearchTrade")) == 2
    assert Payment.objects.get(pk=payment.pk).last_synced_at is not None


def test_each_run_is_logged(shop, sandbox):
    card_payment(shop, sandbox)
    run_status_sync()
    run = BatchRun.objects.get(name="gateway_status_sync")
    assert run.status == BatchRun.Status.DONE and run.processed == 1 and run.finished_at


def test_default_schedules_are_installed():
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"batches.authorization_expiry", "batches.gateway_status_sync"} <= tasks


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sync_runs_at_once_process_each_payment_once(shop, sandbox):
    payments = [card_payment(shop, sandbox, reference=f"P{i}") for i in range(8)]
    sandbox.set_faults(latency_ms=100)
    barrier = threading.Barrier(2)
    reports = [None, None]

    def run(i):
        try:
            barrier.wait()
            reports[i] = run_status_sync(workers=2)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [r for r in reports if r is not None]
    assert len(ran) == 1, "the second run exits when the first holds the lock"
    assert BatchRun.objects.filter(status=BatchRun.Status.SKIPPED).count() == 1
    searched = [c["params"]["OrderID"] for c in sandbox.calls("SearchTrade")]
    assert sorted(searched) == sorted(p.gateway_order_id for p in payments)


def wait_for_run(run_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = BatchRun.objects.get(pk=run_id)
        if run.status != BatchRun.Status.RUNNING:
            return run
        time.sleep(0.2)
    raise AssertionError(f"batch run {run_id} did not finish")


def test_fanned_out_sync_accounts_every_chunk_and_holds_the_lock_until_the_last(
        shop, sandbox, django_capture_on_commit_callbacks):
    payments = [card_payment(shop, sandbox, reference=f"F{i}") for i in range(5)]
    queued = []
    with django_capture_on_commit_callbacks(execute=True):  # chunks are dispatched after the commit
        started = fanout.start(recent=timedelta(hours=2), chunk_size=2, dispatch=lambda *args: queued.append(args))
    assert started["chunks"] == 3 and len(queued) == 3
    # While chunks are queued, another run must not start (it would check the same payments).
    assert "skipped" in fanout.start(recent=timedelta(hours=2), chunk_size=2, dispatch=queued.append)
    for args in queued:
        fanout.process_chunk(*args)
    run = BatchRun.objects.get(pk=started["run"])
    assert (run.status, run.processed, run.chunks_done) == (BatchRun.Status.DONE, 5, 3)
    searched = sorted(c["params"]["OrderID"] for c in sandbox.calls("SearchTrade"))
    assert searched == sorted(p.gateway_order_id for p in payments)
    # The last chunk released the lock: the next run starts, and finds nothing new to check.
    assert fanout.start(recent=timedelta(hours=2), chunk_size=2, dispatch=queued.append)["chunks"] == 0


@pytest.mark.redis
def test_batches_run_through_a_real_celery_worker(celery_worker, shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
    with pytest.raises(OutcomeUnknown):
        services.capture_payment(payment, by=SYSTEM)
    started = gateway_status_sync.delay(chunk_size=1).get(timeout=60)
    assert started["chunks"] >= 1
    run = wait_for_run(started["run"])
    assert run.status == BatchRun.Status.DONE and run.processed == started["chunks"] and run.failed == 0
    assert Payment.objects.get(pk=payment.pk).status == Status.CAPTURED
    expired = card_payment(shop, sandbox)
    past = timezone.now() - timedelta(days=91)
    Payment.objects.filter(pk=expired.pk).update(authorized_at=past, authorization_expires_at=past + timedelta(90))
    assert authorization_expiry.delay().get(timeout=60)["processed"] == 1
    assert Payment.objects.get(pk=expired.pk).status == Status.AUTH_EXPIRED
