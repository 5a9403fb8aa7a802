"""Two bulk captures of the same selection at the same time (PostgreSQL): one SALES per payment."""

import pytest

from bulk.models import BulkRunItem
from bulk.processing import process_run
from payments.models import OperationKind, Payment, PaymentOperation, Status
from tests.bulk.helpers import make_run, sales_calls
from tests.factories import card_payment, member
from tests.payments.test_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
State = BulkRunItem.State


def test_two_runs_on_the_same_selection_capture_each_payment_once(shop, sandbox, operator, settings):
    settings.BULK_CHUNK_SIZE = 3
    settings.BULK_BUSY_RETRY_SECONDS = 0.2
    payments = [card_payment(shop, sandbox, amount=1000 + i) for i in range(8)]
    selection = Payment.objects.filter(shop=shop)
    runs = [make_run(operator, "capture", selection), make_run(member(shop, "operator"), "capture", selection)]
    sandbox.clear_calls()
    sandbox.set_faults(latency_ms=100)  # keep calls in flight while the other run reaches the same payment

    results = run_together(2, lambda i: process_run(runs[i].pk))

    assert all(r is not None and not isinstance(r, BaseException) and r.finished for r in results), results
    assert sorted(c["params"]["AccessID"] for c in sales_calls(sandbox)) == sorted(p.access_id for p in payments)
    assert PaymentOperation.objects.filter(kind=OperationKind.CAPTURE).count() == 8
    assert set(Payment.objects.values_list("status", flat=True)) == {Status.CAPTURED}
    for payment in payments:
        items = BulkRunItem.objects.filter(payment=payment)
        assert sorted(items.values_list("state", flat=True)) != [State.SUCCEEDED, State.SUCCEEDED]
        assert items.filter(state=State.SUCCEEDED).count() == 1
        other = items.exclude(state=State.SUCCEEDED).get()
        assert other.state in (State.SKIPPED, State.FAILED) and other.message  # told why
