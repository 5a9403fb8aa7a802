"""The bulk task's engine against the gateway sandbox: outcomes per item, kill midway and resume."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bulk import processing
from bulk.models import BulkRun, BulkRunItem
from bulk.processing import process_run
from payments.models import OperationKind, Payment, PaymentOperation, Status
from tests.bulk.helpers import make_run, sales_calls
from tests.factories import card_payment

pytestmark = pytest.mark.django_db
State = BulkRunItem.State


class WorkerKilled(BaseException):
    """Not an Exception: like a SIGKILL, nothing in the task may catch it and tidy up."""


def states(run) -> dict[str, int]:
    counts = run.counts()
    return {key: counts[key] for key in ("done", "failed", "skipped", "remaining")}


def stale_claims():
    BulkRunItem.objects.filter(state=State.PROCESSING).update(claimed_at=timezone.now() - timedelta(minutes=10))


def test_capture_run_records_each_outcome_and_carries_on(shop, sandbox, operator):
    for i in range(4):
        card_payment(shop, sandbox, amount=1000 + i)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    sandbox.clear_calls()
    # The first capture is refused by the gateway; the run goes on with the others.
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "error", "err_info": "E01050004", "times": 1,
                               "job_cd": "SALES"}])

    result = process_run(run.pk)

    run.refresh_from_db()
    assert result.finished and run.status == BulkRun.Status.DONE and run.started_at and run.finished_at
    assert states(run) == {"done": 3, "failed": 1, "skipped": 0, "remaining": 0}
    failed = run.items.get(state=State.FAILED)
    assert failed.gateway_code == "E01050004" and failed.message and failed.operation.kind == OperationKind.CAPTURE
    done = run.items.filter(state=State.SUCCEEDED)
    assert {i.gateway_job for i in done} == {"SALES"} and all(i.operation_id and i.processed_at for i in done)
    assert all(op.actor == operator for op in PaymentOperation.objects.filter(kind=OperationKind.CAPTURE))
    assert len(sales_calls(sandbox)) == 4


def test_payment_captured_meanwhile_is_skipped_with_the_reason(shop, sandbox, operator):
    payments = [card_payment(shop, sandbox) for _ in range(2)]
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    from payments import services
    from payments.actors import Actor

    services.capture_payment(payments[0], by=Actor.system("someone else"))
    sandbox.clear_calls()

    process_run(run.pk)

    skipped = run.items.get(payment=payments[0])
    assert skipped.state == State.SKIPPED and skipped.message and skipped.operation is None
    assert run.items.get(payment=payments[1]).state == State.SUCCEEDED
    assert len(sales_calls(sandbox)) == 1


def test_cancel_run_uses_the_job_of_each_payment(shop, sandbox, operator):
    today = card_payment(shop, sandbox, amount=1500)
    earlier = card_payment(shop, sandbox, amount=2500)
    Payment.objects.filter(pk=earlier.pk).update(authorized_at=timezone.now() - timedelta(days=3))
    run = make_run(operator, "cancel", Payment.objects.filter(shop=shop))

    process_run(run.pk)

    assert run.items.get(payment=today).gateway_job == "VOID"
    assert run.items.get(payment=earlier).gateway_job == "RETURN"
    assert set(Payment.objects.values_list("status", flat=True)) == {Status.VOIDED, Status.RETURNED}


def test_killed_midway_then_resumed_processes_every_item_once(shop, sandbox, operator, settings, monkeypatch):
    settings.BULK_CHUNK_SIZE = 4
    payments = [card_payment(shop, sandbox) for _ in range(10)]
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    sandbox.clear_calls()
    real, seen = processing.process_item, []

    def dies_at_seventh(run, actor, payment_id):
        if len(seen) == 6:
            raise WorkerKilled
        seen.append(payment_id)
        return real(run, actor, payment_id)

    monkeypatch.setattr(processing, "process_item", dies_at_seventh)
    with pytest.raises(WorkerKilled):
        process_run(run.pk)
    monkeypatch.undo()
    # Chunk 2 was claimed (items 5-8): 5 and 6 done, 7 and 8 left `processing` by the dead worker.
    assert states(run)["done"] == 6
    assert run.items.filter(state=State.PROCESSING).count() == 2
    assert run.items.filter(state=State.PENDING).count() == 2

    # Resumed at once: the dead worker's claims are not stale yet, so only the pending items are taken.
    early = process_run(run.pk)
    assert (early.processed, early.waiting, early.finished) == (2, 2, False)
    run.refresh_from_db()
    assert run.status == BulkRun.Status.RUNNING

    stale_claims()  # a few minutes later
    late = process_run(run.pk)

    run.refresh_from_db()
    assert (late.processed, late.finished, run.status) == (2, True, BulkRun.Status.DONE)
    assert states(run) == {"done": 10, "failed": 0, "skipped": 0, "remaining": 0}
    assert sorted(c["params"]["AccessID"] for c in sales_calls(sandbox)) == sorted(
        p.access_id for p in payments)  # one SALES per payment
    assert PaymentOperation.objects.filter(kind=OperationKind.CAPTURE).count() == 10


def test_killed_after_the_gateway_call_replays_instead_of_calling_again(shop, sandbox, operator, settings,
                                                                          monkeypatch):
    settings.BULK_CHUNK_SIZE = 5
    payments = [card_payment(shop, sandbox) for _ in range(5)]
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    sandbox.clear_calls()
    real, recorded = processing.record_outcome, []

    def dies_before_recording_third(item_id, outcome):
        if len(recorded) == 2:
            raise WorkerKilled  # the third capture happened at the gateway; the item does not know
        recorded.append(item_id)
        real(item_id, outcome)

    monkeypatch.setattr(processing, "record_outcome", dies_before_recording_third)
    with pytest.raises(WorkerKilled):
        process_run(run.pk)
    monkeypatch.undo()
    assert len(sales_calls(sandbox)) == 3 and states(run)["done"] == 2

    stale_claims()
    assert process_run(run.pk).finished

    assert states(run) == {"done": 5, "failed": 0, "skipped": 0, "remaining": 0}
    assert len(sales_calls(sandbox)) == 5  # the third was replayed from the ledger, not sent again
    third = run.items.order_by("pk")[2]
    assert third.operation.idempotency_key == f"bulk:{run.pk}:{third.payment_id}"
    assert all(Payment.objects.get(pk=p.pk).status == Status.CAPTURED for p in payments)


def test_run_of_a_deleted_user_continues_as_the_system(shop, sandbox, operator):
    card_payment(shop, sandbox)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    operator.delete()

    process_run(run.pk)

    op = PaymentOperation.objects.get(kind=OperationKind.CAPTURE)
    assert op.actor is None and op.actor_label.startswith("system: bulk run")
    assert run.items.get().state == State.SUCCEEDED
