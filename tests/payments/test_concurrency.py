"""Two operators (or 20 retries) at once on PostgreSQL: one gateway call, the rest told why."""

import threading
import time

import pytest
from django.db import connection

from payments import services
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, PaymentBusy, PaymentError
from payments.models import OperationKind, Payment, PaymentOperation, Status
from tests.api.conftest import api_client_for
from tests.factories import card_payment, member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(n, fn):
    """Run fn(i) in n threads released at the same instant; return results/exceptions in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def target(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("operation", ["capture", "cancel"])
def test_two_operators_at_once_make_one_gateway_call(shop, sandbox, operation):
    payment = card_payment(shop, sandbox)
    operators = [Actor.for_user(member(shop, "operator")) for _ in range(2)]
    # Both looked at the same page (same version) before clicking.
    views = [Payment.objects.get(pk=payment.pk) for _ in range(2)]
    sandbox.set_faults(latency_ms=300)  # keep the first call in flight while the second arrives
    run = {"capture": services.capture_payment, "cancel": services.cancel_payment}[operation]

    results = run_together(2, lambda i: run(views[i], by=operators[i]))

    succeeded = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(succeeded) == 1, results
    assert len(refused) == 1 and isinstance(refused[0], ChangedMeanwhile), results
    assert "他の操作により変更されました" in refused[0].message  # shown to the operator in Japanese
    assert len(sandbox.calls("AlterTran")) == 1
    assert PaymentOperation.objects.filter(kind=operation).count() == 1


def test_fresh_loads_racing_get_busy_or_refused_never_a_second_call(shop, sandbox):
    """Callers that load the payment themselves (like bulk tasks) also make exactly one call."""
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(latency_ms=200)

    def capture(i):
        return services.capture_payment(Payment.objects.get(pk=payment.pk), by=Actor.system(f"t{i}"))

    results = run_together(5, capture)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, PaymentError) for r in results if isinstance(r, Exception))
    assert len(sandbox.calls("AlterTran")) == 1
    assert Payment.objects.get(pk=payment.pk).status == Status.CAPTURED


def test_same_idempotency_key_twenty_times_at_once_is_one_operation(shop, sandbox):
    payment = card_payment(shop, sandbox)
    clients = [api_client_for(shop) for _ in range(20)]
    sandbox.set_faults(latency_ms=200)

    responses = run_together(20, lambda i: clients[i].post(
        f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="same-key"))

    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 409}, codes
    assert 200 in codes
    assert PaymentOperation.objects.filter(kind=OperationKind.CAPTURE).count() == 1
    assert len(sandbox.calls("AlterTran")) == 1
    in_flight = [r.json()["error"]["code"] for r in responses if r.status_code == 409]
    assert set(in_flight) <= {"idempotency_in_flight"}


def test_busy_payment_tells_the_second_caller(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "delay", "seconds": 1, "times": 1}])
    started = threading.Event()

    def slow_capture():
        started.set()
        try:
            services.capture_payment(Payment.objects.get(pk=payment.pk), by=Actor.system("first"))
        finally:
            connection.close()

    t = threading.Thread(target=slow_capture)
    t.start()
    started.wait()
    time.sleep(0.3)
    with pytest.raises(PaymentBusy):
        services.cancel_payment(Payment.objects.get(pk=payment.pk), by=Actor.system("second"))
    t.join()
    assert len(sandbox.calls("AlterTran")) == 1


def test_concurrent_orders_without_numbers_all_succeed_with_unique_numbers(shop, sandbox):
    clients = [api_client_for(shop) for _ in range(10)]
    tokens = [sandbox.create_token("4111111111111111") for _ in range(10)]

    def order(i):
        return clients[i].post("/api/v1/orders/", {
            "customer": {"name": f"客{i}"}, "total": 1000, "payment": {"token": tokens[i]},
            "lines": [{"product_name": "品", "quantity": 1, "unit_price": 1000}]}, format="json")

    responses = run_together(10, order)
    assert [r.status_code for r in responses] == [201] * 10
    numbers = {r.json()["number"] for r in responses}
    assert len(numbers) == 10
    assert all(r.json()["payment"]["reference"] == r.json()["number"] for r in responses)
