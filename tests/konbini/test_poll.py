"""The konbini deadlines batch against the sandbox, with no webhook endpoint configured (= every webhook missed).

The sandbox runs in this process, so time_machine moves its clock together with Django's.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from batches.konbini import NAME, run_konbini_deadlines
from batches.locking import batch_lock
from batches.models import BatchRun
from gateways.sandbox.stripe_konbini import DEFAULT_KEYS
from notices.models import Notice
from payments.models import OperationKind, OperationState, Payment, Status, StripeEvent
from payments.services import sync_payment
from payments.stripe_events import record_event
from reservations import payment_flow
from reservations.models import AcceptanceMode
from reservations.models import Status as R
from tests.factories import UserFactory, member
from tests.reservations.helpers import SYSTEM, make_slot

STAFF = "ops@example.com"
CUSTOMER = "hanako@example.com"
LATER = timedelta(minutes=3)  # past the stale bound of a lost answer and the confirmation's own issue


@pytest.fixture
def poll_shop(konbini_shop, transactional_db, settings):
    settings.BATCH_GATEWAY_CONCURRENCY = 2  # the threaded path, as in production
    member(konbini_shop, "operator", UserFactory(email=STAFF))
    return konbini_shop


def book(shop, name="山田 花子"):
    slot = make_slot(shop, mode=AcceptanceMode.FIRST_COME, price=3000)
    return payment_flow.book(slot, name=name, email=CUSTOMER, seats=1, by=SYSTEM, payment_method="konbini")


def staff_mails():
    return [m for m in mail.outbox if STAFF in m.to]


def numbers_mails():
    return [m for m in mail.outbox if CUSTOMER in m.to]


def lines(report) -> str:
    return "\n".join(report.lines)


def test_paid_at_the_store_without_webhook_is_caught_once(poll_shop, sandbox):
    r = book(poll_shop)
    p = r.payment
    assert p.status == Status.AWAITING_PAYMENT and len(numbers_mails()) == 1
    sandbox.stripe_pay(p.external_id)

    report = run_konbini_deadlines()
    p.refresh_from_db()
    assert p.status == Status.PAID and p.captured_amount == 3000
    assert f"payment #{p.pk}: awaiting_payment → paid" in lines(report)
    assert report.failed == 0
    assert len(staff_mails()) == 1

    # A second run, and even a forced second look at Stripe, mails nobody again.
    Payment.objects.filter(pk=p.pk).update(last_synced_at=None)
    run_konbini_deadlines()
    sync_payment(p, actor=SYSTEM)
    assert len(staff_mails()) == 1
    assert Notice.objects.filter(kind="konbini_paid").count() == 1
    run = BatchRun.objects.filter(name=NAME).order_by("pk").first()
    assert run.status == BatchRun.Status.DONE and "awaiting_payment → paid" in run.summary


def test_expired_at_stripe_leaves_the_reservation_confirmed(poll_shop, sandbox):
    r = book(poll_shop)
    p = r.payment
    sandbox.stripe_expire(p.external_id)

    report = run_konbini_deadlines()
    p.refresh_from_db()
    r.refresh_from_db()
    assert p.status == Status.EXPIRED and r.status == R.CONFIRMED
    assert f"payment #{p.pk}: awaiting_payment → expired" in lines(report)
    run_konbini_deadlines()
    assert Notice.objects.filter(kind="konbini_expired", key=f"konbini_expired:{p.pk}").count() == 1
    assert len(staff_mails()) == 1


def test_our_clock_past_the_deadline_is_not_expiry_while_stripe_waits(poll_shop, sandbox):
    p = book(poll_shop).payment
    deadline = p.payment_deadline
    assert deadline

    with time_machine.travel(deadline + timedelta(minutes=30)):  # inside Stripe's grace hour
        report = run_konbini_deadlines()
    p.refresh_from_db()
    assert p.status == Status.AWAITING_PAYMENT and p.gateway_status == "requires_action"
    assert "deadline passed, Stripe still says requires_action" in lines(report)
    assert not staff_mails()

    with time_machine.travel(deadline + timedelta(hours=2)):  # Stripe gave up: now it says so
        report = run_konbini_deadlines()
    p.refresh_from_db()
    assert p.status == Status.EXPIRED
    assert len(staff_mails()) == 1


def test_numbers_not_issued_at_confirmation_are_issued_by_the_poll(poll_shop, sandbox):
    sandbox.set_faults(rules=[{"api": "payment_intents.create", "action": "error", "times": 1}])
    r = book(poll_shop)
    assert r.status == R.CONFIRMED
    p = r.payment
    assert p.status == Status.AWAITING_APPROVAL and not p.external_id
    assert not numbers_mails()

    run_konbini_deadlines()  # too early: the lost answer is not stale yet
    p.refresh_from_db()
    assert p.status == Status.AWAITING_APPROVAL
    assert len(sandbox.calls("payment_intents.create")) == 1

    with time_machine.travel(timezone.now() + LATER):
        report = run_konbini_deadlines()
    p.refresh_from_db()
    r.refresh_from_db()
    assert p.status == Status.AWAITING_PAYMENT and p.external_id and p.konbini_numbers["stores"]
    assert r.status == R.CONFIRMED
    assert f"payment #{p.pk}: awaiting_approval → awaiting_payment" in lines(report)
    assert report.failed == 0
    # The refused create was settled as not applied from Stripe's event log, then issued once.
    issue_ops = p.operations.filter(kind=OperationKind.ISSUE_NUMBERS).order_by("pk")
    assert [op.state for op in issue_ops] == [OperationState.FAILED, OperationState.SUCCEEDED]
    assert len(sandbox.calls("payment_intents.create")) == 2
    assert len(numbers_mails()) == 1


def test_a_lost_create_answer_is_settled_from_the_event_log(poll_shop, sandbox):
    sandbox.set_faults(rules=[{"api": "payment_intents.create", "action": "drop_response", "times": 1}])
    r = book(poll_shop)
    p = r.payment
    assert p.status == Status.AWAITING_APPROVAL and not p.external_id
    assert p.operations.get(kind=OperationKind.ISSUE_NUMBERS).state == OperationState.UNKNOWN

    with time_machine.travel(timezone.now() + LATER):
        report = run_konbini_deadlines()
    p.refresh_from_db()
    assert p.status == Status.AWAITING_PAYMENT
    assert p.external_id and p.konbini_numbers["stores"]["lawson"]["payment_code"]
    assert p.operations.get(kind=OperationKind.ISSUE_NUMBERS).state == OperationState.SUCCEEDED
    assert len(sandbox.calls("payment_intents.create")) == 1, "settled by asking, never by a second create"
    assert len(numbers_mails()) == 1
    assert report.failed == 0


def test_an_issue_refused_by_stripe_is_retried_once_per_poll_interval(poll_shop, sandbox, settings):
    poll_shop.set_stripe_secret_key("sk_test_not_an_account")  # Stripe answers 401: refused, not unreachable
    poll_shop.save()
    r = book(poll_shop)
    p = r.payment
    issue = p.operations.get(kind=OperationKind.ISSUE_NUMBERS)
    assert p.status == Status.AWAITING_APPROVAL and issue.state == OperationState.FAILED and issue.error_code
    poll_shop.set_stripe_secret_key(DEFAULT_KEYS[0])  # staff fix the account
    poll_shop.save()

    with time_machine.travel(timezone.now() + LATER):
        run_konbini_deadlines()
    p.refresh_from_db()
    assert p.status == Status.AWAITING_APPROVAL, "a refusal is not retried at every run"

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.KONBINI_POLL_INTERVAL_SECONDS + 60)):
        report = run_konbini_deadlines()
    p.refresh_from_db()
    assert p.status == Status.AWAITING_PAYMENT and len(numbers_mails()) == 1
    assert report.failed == 0


def test_an_event_whose_task_was_lost_is_processed(poll_shop, sandbox):
    p = book(poll_shop).payment
    sandbox.stripe_pay(p.external_id)
    events = sandbox.stripe_events(api_key=DEFAULT_KEYS[0])
    succeeded = next(e for e in events if e["type"] == "payment_intent.succeeded")
    charge = next(e for e in events if e["type"] == "charge.succeeded")
    # Recorded by the endpoint, task lost; the voucher itself was just checked, so only the event can tell.
    lost, _ = record_event(poll_shop, succeeded)
    fresh, _ = record_event(poll_shop, charge)
    StripeEvent.objects.filter(pk=lost.pk).update(received_at=timezone.now() - timedelta(minutes=2))
    Payment.objects.filter(pk=p.pk).update(last_synced_at=timezone.now())

    report = run_konbini_deadlines()
    lost.refresh_from_db()
    fresh.refresh_from_db()
    p.refresh_from_db()
    assert lost.processed_at and "paid" in lost.result
    assert fresh.processed_at is None, "its own task may still be running"
    assert p.status == Status.PAID
    assert f"event {succeeded['id']}" in lines(report)
    assert len(staff_mails()) == 1


def test_one_failing_payment_does_not_stop_the_run(poll_shop, sandbox, settings):
    settings.BATCH_GATEWAY_CONCURRENCY = 1  # which payment meets the fault is then certain
    first, second = book(poll_shop).payment, book(poll_shop, name="佐藤 一郎").payment
    sandbox.stripe_pay(second.external_id)
    # Three failed reads for the first payment (retry_reads tries three times), none for the second.
    sandbox.set_faults(rules=[{"api": "payment_intents.retrieve", "action": "error", "times": 3}])

    report = run_konbini_deadlines()
    second.refresh_from_db()
    assert second.status == Status.PAID
    assert report.failed == 1 and f"payment #{first.pk}:" in lines(report)
    assert BatchRun.objects.get(name=NAME).status == BatchRun.Status.DONE


def test_the_schedule_is_installed_and_the_command_runs_it(db, konbini_shop):
    task = PeriodicTask.objects.get(task="batches.konbini_deadlines")
    assert task.interval.every == 15 and task.interval.period == "minutes" and task.enabled
    call_command("run_batch", "konbini_deadlines")
    assert BatchRun.objects.get(name=NAME).status == BatchRun.Status.DONE


def test_a_run_while_another_holds_the_lock_does_nothing(poll_shop, sandbox):
    p = book(poll_shop).payment
    sandbox.stripe_pay(p.external_id)
    with batch_lock(NAME):
        assert run_konbini_deadlines() is None
    p.refresh_from_db()
    assert p.status == Status.AWAITING_PAYMENT
    assert BatchRun.objects.get(name=NAME).status == BatchRun.Status.SKIPPED


@pytest.mark.postgres
def test_two_runs_at_once_ask_stripe_once_per_voucher(poll_shop, sandbox):
    payments = [book(poll_shop, name=f"客 {i}").payment for i in range(4)]
    sandbox.clear_calls()
    sandbox.set_faults(latency_ms=100)
    barrier = threading.Barrier(2)
    reports = [None, None]

    def run(i):
        try:
            barrier.wait()
            reports[i] = run_konbini_deadlines()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in reports if r is not None]) == 1, "the second run exits when the first holds the lock"
    assert BatchRun.objects.filter(name=NAME, status=BatchRun.Status.SKIPPED).count() == 1
    retrieved = [c["params"] for c in sandbox.calls("payment_intents.retrieve")]
    assert len(retrieved) == len(payments)
