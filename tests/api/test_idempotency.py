"""Idempotency-Key (api/idempotency.py): replay, conflict, in flight, takeover, concurrency, purge."""

from datetime import timedelta

import pytest
from django.urls import get_resolver
from django.utils import timezone

from api.idempotency import fingerprint
from api.models import IdempotencyRecord
from api.tasks import purge_idempotency_records
from orders.models import Order
from payments.models import OperationKind, PaymentOperation, Status
from tests.api.conftest import api_client_for
from tests.api.test_orders_and_payments_api import order_body
from tests.factories import card_payment
from tests.payments.test_concurrency import run_together

pytestmark = pytest.mark.django_db


def test_replay_is_the_same_answer_and_no_second_gateway_call(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    first = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-1")
    again = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-1")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert len(sandbox.calls("AlterTran")) == 1


def test_refusals_are_replayed_too(api, shop, sandbox):
    payment = card_payment(shop, sandbox, authorize=False)  # 未決済: capture is refused
    first = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-2")
    assert first.status_code == 409
    again = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-2")
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (409, first.json(), "true")


def test_same_key_with_another_body_or_path_is_422_and_changes_nothing(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    api.post(f"/api/v1/payments/{payment.pk}/change-amount/", {"amount": 2500}, format="json",
             HTTP_IDEMPOTENCY_KEY="amt-1")
    payment.refresh_from_db()
    before = (payment.amount, payment.version, PaymentOperation.objects.count(), len(sandbox.calls()))
    for path, body in [(f"/api/v1/payments/{payment.pk}/change-amount/", {"amount": 2000}),
                       (f"/api/v1/payments/{payment.pk}/cancel/", {})]:
        response = api.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="amt-1")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "idempotency_conflict"
    payment.refresh_from_db()
    assert (payment.amount, payment.version, PaymentOperation.objects.count(), len(sandbox.calls())) == before


def _cancel_fingerprint(payment) -> str:
    """The fingerprint of `POST /payments/{id}/cancel/` with an empty body, as the request below has."""

    class Request:
        method = "POST"
        data = {}

        @staticmethod
        def get_full_path():
            return f"/api/v1/payments/{payment.pk}/cancel/"

    return fingerprint(Request)


def test_a_key_still_in_flight_is_409(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    IdempotencyRecord.objects.create(shop=shop, key="busy", fingerprint=_cancel_fingerprint(payment))
    response = api.post(f"/api/v1/payments/{payment.pk}/cancel/", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_in_flight"
    payment.refresh_from_db()
    assert payment.status == Status.AUTHORIZED and not sandbox.calls("AlterTran")


def test_a_stale_in_flight_key_is_taken_over_once(api, shop, sandbox, settings):
    payment = card_payment(shop, sandbox)
    stale = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS + 5)
    IdempotencyRecord.objects.create(shop=shop, key="crashed", fingerprint=_cancel_fingerprint(payment),
                                     claimed_at=stale)
    response = api.post(f"/api/v1/payments/{payment.pk}/cancel/", HTTP_IDEMPOTENCY_KEY="crashed")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == Status.VOIDED
    assert IdempotencyRecord.objects.get(key="crashed").state == IdempotencyRecord.DONE


@pytest.mark.parametrize("key", ["", "x" * 201, "ключ", "with space"])
def test_an_invalid_key_is_400_and_changes_nothing(api, shop, sandbox, key):
    payment = card_payment(shop, sandbox)
    response = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_idempotency_key"
    payment.refresh_from_db()
    assert payment.status == Status.AUTHORIZED and not sandbox.calls("AlterTran")
    assert not IdempotencyRecord.objects.exists()


def test_keys_are_per_shop(api, other_api, shop, other_shop, sandbox):
    mine, theirs = card_payment(shop, sandbox), card_payment(other_shop, sandbox, reference="ORDER-2")
    assert api.post(f"/api/v1/payments/{mine.pk}/capture/", HTTP_IDEMPOTENCY_KEY="k").status_code == 200
    answer = other_api.post(f"/api/v1/payments/{theirs.pk}/capture/", HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 200 and "Idempotent-Replayed" not in answer
    assert len(sandbox.calls("AlterTran")) == 2


def test_an_unknown_outcome_is_not_stored_so_a_retry_answers_from_the_ledger(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "drop_response", "times": 1}])
    first = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="lost")
    assert first.status_code == 202, first.json()
    assert not IdempotencyRecord.objects.filter(key="lost").exists()
    api.post(f"/api/v1/payments/{payment.pk}/sync/")  # the status check settles it: applied
    retry = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="lost")
    assert retry.status_code == 200 and retry.json()["status"] == Status.CAPTURED
    assert len(sandbox.calls("AlterTran")) == 1


def test_purge_deletes_only_records_past_retention(shop, settings):
    settings.IDEMPOTENCY_RETENTION_DAYS = 7
    old = IdempotencyRecord.objects.create(shop=shop, key="old", fingerprint="x")
    IdempotencyRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    IdempotencyRecord.objects.create(shop=shop, key="new", fingerprint="y")
    assert purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_every_mutating_endpoint_honours_the_key():
    """A new POST view without @idempotent would let a retried request act twice: fail loudly."""
    missing = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/v1/":
            continue
        for view_pattern in pattern.url_patterns:
            view = view_pattern.callback.view_class
            for method in ("post", "put", "patch", "delete"):
                handler = getattr(view, method, None)
                if handler is not None and not getattr(handler, "idempotent", False):
                    missing.append(f"{method.upper()} {view_pattern.pattern}")
    assert missing == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_duplicate_captures_make_one_gateway_call(shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(latency_ms=400)  # keep the first one in flight while the others arrive
    clients = [api_client_for(shop) for _ in range(50)]
    results = run_together(50, lambda i: clients[i].post(f"/api/v1/payments/{payment.pk}/capture/",
                                                          HTTP_IDEMPOTENCY_KEY="race-1"))
    sandbox.clear_faults()
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {200, 409} and 200 in codes, codes
    assert len(sandbox.calls("AlterTran")) == 1
    assert PaymentOperation.objects.filter(payment=payment, kind=OperationKind.CAPTURE).count() == 1
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED
    replay = api_client_for(shop).post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="race-1")
    assert replay.status_code == 200 and replay["Idempotent-Replayed"] == "true"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_duplicate_orders_make_one_order_and_one_authorization(shop, sandbox):
    body = order_body(sandbox.create_token("4111111111111111"))
    sandbox.set_faults(latency_ms=400)
    clients = [api_client_for(shop) for _ in range(50)]
    results = run_together(50, lambda i: clients[i].post("/api/v1/orders/", body, format="json",
                                                          HTTP_IDEMPOTENCY_KEY="order-race"))
    sandbox.clear_faults()
    assert not [r for r in results if isinstance(r, Exception)], results
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {201, 409} and 201 in codes, codes
    assert Order.objects.count() == 1 and len(sandbox.calls("ExecTran")) == 1


def test_an_order_retried_after_a_lost_answer_is_that_order_never_a_second(api, shop, sandbox):
    body = order_body(sandbox.create_token("4111111111111111"))
    sandbox.set_faults(rules=[{"api": "ExecTran", "action": "drop_response", "times": 1}])
    first = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-lost")
    assert first.status_code == 202, first.json()
    again = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-lost")
    assert again.status_code == 202 and again.json()["order"]["id"] == first.json()["order"]["id"]
    order = Order.objects.get()
    api.post(f"/api/v1/payments/{order.payment_id}/sync/")  # the status check: the authorization was applied
    settled = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-lost")
    assert settled.status_code == 201 and settled.json()["id"] == order.pk
    assert settled.json()["payment"]["status"] == Status.AUTHORIZED
    assert Order.objects.count() == 1 and len(sandbox.calls("ExecTran")) == 1


def test_a_call_that_never_left_frees_its_key_for_the_retry(api, shop, sandbox, settings):
    from tests.gateways.test_gmo_adapter_protocol import closed_port_url

    payment = card_payment(shop, sandbox)
    working = settings.GMO_PG_BASE_URL
    settings.GMO_PG_BASE_URL = closed_port_url()
    down = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-down")
    assert down.status_code == 503, down.json()
    settings.GMO_PG_BASE_URL = working
    retry = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-down")
    assert retry.status_code == 200 and retry.json()["status"] == Status.CAPTURED
    assert len(sandbox.calls("AlterTran")) == 1


def test_busy_is_not_stored_so_the_retry_runs_once_the_payment_is_free(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "ChangeTran", "action": "drop_response", "times": 1}])
    assert api.post(f"/api/v1/payments/{payment.pk}/change-amount/", {"amount": 2000}, format="json").status_code == 202
    busy = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-busy")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "payment_busy"
    assert not IdempotencyRecord.objects.filter(key="cap-busy").exists()
    api.post(f"/api/v1/payments/{payment.pk}/sync/")
    retry = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="cap-busy")
    assert retry.status_code == 200 and retry.json()["status"] == Status.CAPTURED
