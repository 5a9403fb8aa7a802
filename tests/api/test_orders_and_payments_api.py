"""The minimal REST API over the payment services (issue #3 item 7)."""

import logging

import pytest
from django.db import connection

from orders.models import Fulfilment, Order
from payments.models import OperationKind, Payment, PaymentOperation, Status
from tests.factories import VISA_DECLINED, card_payment

pytestmark = pytest.mark.django_db


def order_body(token, total=3300, **extra):
    return {
        "customer": {"name": "山田 太郎", "email": "taro@example.jp"},
        "lines": [{"product_name": "抹茶ラテ", "quantity": 3, "unit_price": 1100, "tax_rate": 8}],
        "total": total,
        "payment": {"method": "card", "token": token},
        **extra,
    }


@pytest.mark.django_db(transaction=True)  # fulfilment moves after commit
def test_create_order_authorizes_the_card(api, shop, sandbox):
    response = api.post("/api/v1/orders/", order_body(sandbox.create_token("4111111111111111")), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["fulfilment_status"] == Fulfilment.NEW
    assert body["payment"]["status"] == Status.AUTHORIZED
    assert body["payment"]["status_label"] == "仮売上"
    assert "access_pass" not in body["payment"]
    assert sandbox.transaction(body["payment"]["gateway_order_id"])["amount"] == 3300


@pytest.mark.django_db(transaction=True)  # fulfilment moves after commit
def test_capture_then_cancel_moves_fulfilment(api, shop, sandbox):
    body = api.post("/api/v1/orders/", order_body(sandbox.create_token("4111111111111111")), format="json").json()
    pid = body["payment"]["id"]
    captured = api.post(f"/api/v1/payments/{pid}/capture/")
    assert captured.status_code == 200 and captured.json()["status"] == Status.CAPTURED
    order = Order.objects.get(pk=body["id"])
    assert order.fulfilment_status == Fulfilment.PAID
    assert order.events.filter(message__contains="入金済み").exists()
    cancelled = api.post(f"/api/v1/payments/{pid}/cancel/")
    assert cancelled.json()["status"] == Status.VOIDED
    order.refresh_from_db()
    assert order.fulfilment_status == Fulfilment.CANCELLED


@pytest.mark.django_db(transaction=True)  # fulfilment moves after commit
def test_declined_card_is_402_and_the_order_not_placed(api, shop, sandbox):
    response = api.post("/api/v1/orders/", order_body(sandbox.create_token(VISA_DECLINED)), format="json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "gateway_declined" and error["gateway_code"] == "42G020000"
    assert Order.objects.get().fulfilment_status == Fulfilment.NOT_PLACED


def test_change_amount_and_reauthorize_and_sync(api, shop, sandbox):
    pid = card_payment(shop, sandbox, amount=3000).pk
    r = api.post(f"/api/v1/payments/{pid}/change-amount/", {"amount": 2800, "job": "AUTH"}, format="json")
    assert r.status_code == 200 and r.json()["amount"] == 2800
    api.post(f"/api/v1/payments/{pid}/cancel/")
    r = api.post(f"/api/v1/payments/{pid}/reauthorize/", {"job": "CAPTURE"}, format="json")
    assert r.json()["status"] == Status.CAPTURED_IMMEDIATELY
    r = api.post(f"/api/v1/payments/{pid}/sync/")
    assert r.status_code == 200 and r.json()["sync"]["gateway_status"] == "CAPTURE"


def test_get_payment_shows_operations(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    body = api.get(f"/api/v1/payments/{payment.pk}/").json()
    assert [op["kind"] for op in body["operations"]] == [OperationKind.AUTHORIZE]


@pytest.mark.parametrize("path,data", [
    ("change-amount", {"amount": -5}),
    ("change-amount", {"amount": 10_000_000}),
    ("change-amount", {"amount": "abc"}),
    ("change-amount", {}),
    ("reauthorize", {"job": "SALES"}),
])
def test_bad_input_is_400_and_changes_nothing(api, shop, sandbox, path, data):
    payment = card_payment(shop, sandbox)
    calls = len(sandbox.calls())
    response = api.post(f"/api/v1/payments/{payment.pk}/{path}/", data, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert PaymentOperation.objects.count() == 1 and len(sandbox.calls()) == calls


def test_capture_of_voided_payment_is_409(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    api.post(f"/api/v1/payments/{payment.pk}/cancel/")
    calls = len(sandbox.calls())
    response = api.post(f"/api/v1/payments/{payment.pk}/capture/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert response.json()["payment"]["status"] == Status.VOIDED
    assert len(sandbox.calls()) == calls


def test_unknown_and_foreign_payments_are_404(api, other_api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    assert api.get("/api/v1/payments/999999/").status_code == 404
    foreign = other_api.post(f"/api/v1/payments/{payment.pk}/capture/")
    assert foreign.status_code == 404
    assert other_api.get(f"/api/v1/payments/{payment.pk}/").status_code == 404
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTHORIZED
    assert sandbox.calls("AlterTran") == []


def test_no_token_is_401(client, shop):
    assert client.get("/api/v1/payments/1/").status_code == 401
    assert client.get("/api/v1/payments/1/", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


@pytest.mark.parametrize("body_patch", [
    {"total": 0}, {"total": 9999}, {"lines": []}, {"payment": {"method": "card", "token": "short"}},
])
def test_bad_order_input_writes_nothing(api, shop, sandbox, body_patch):
    body = {**order_body(sandbox.create_token("4111111111111111")), **body_patch}
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert sandbox.calls() == []


def test_idempotency_key_replays_and_refuses_a_different_body(api, shop, sandbox):
    payment = card_payment(shop, sandbox)
    first = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(f"/api/v1/payments/{payment.pk}/capture/", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert len(sandbox.calls("AlterTran")) == 1
    other = api.post(f"/api/v1/payments/{payment.pk}/change-amount/", {"amount": 10},
                     format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422


def test_order_creation_is_idempotent(api, shop, sandbox):
    body = order_body(sandbox.create_token("4111111111111111"))
    first = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    again = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == again.status_code == 201
    assert Order.objects.count() == 1 and len(sandbox.calls("ExecTran")) == 1


CARD = "4111111111111111"


@pytest.mark.parametrize("where", ["token", "extra_key", "customer"])
def test_card_number_is_refused_and_never_stored_or_logged(api, shop, sandbox, caplog, where):
    caplog.set_level(logging.DEBUG)
    body = order_body("placeholder-token-value-123456")
    if where == "token":
        body["payment"]["token"] = CARD
    elif where == "extra_key":
        body["payment"]["card_number"] = "4242 4242 4242 4242"
    else:
        body["customer"]["name"] = CARD
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "card_data_refused"
    assert CARD not in response.content.decode()
    assert not Order.objects.exists() and not Payment.objects.exists() and sandbox.calls() == []
    assert CARD not in caplog.text and "4242 4242" not in caplog.text
    assert_not_in_database(CARD)


def assert_not_in_database(needle: str) -> None:
    """Scan every text column of every table."""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(f'SELECT COUNT(*) FROM "{table}" WHERE CAST("{column.name}" AS TEXT) LIKE %s',
                               [f"%{needle}%"])
                assert cursor.fetchone()[0] == 0, f"{needle} found in {table}.{column.name}"


def test_order_with_shipping_fees_and_points_charges_the_rest(api, shop, sandbox):
    body = order_body(sandbox.create_token("4111111111111111"), total=3300 + 800 + 330,
                      shipping_fee=800, fees=330, points_used=500, shipping_address="東京都千代田区1-1")
    response = api.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 201, response.json()
    order = Order.objects.get()
    assert (order.total, order.amount_to_pay) == (4430, 3930)
    assert order.payment.amount == 3930
    assert sandbox.transaction(order.payment.gateway_order_id)["amount"] == 3930
    assert order.tax_breakdown() == {8: 3300, 10: 1130}
    assert order.shipments.get().address == "東京都千代田区1-1"


@pytest.mark.parametrize("patch", [{"shipping_fee": 800}, {"points_used": 3300}])
def test_inconsistent_totals_or_points_only_are_refused(api, shop, sandbox, patch):
    response = api.post("/api/v1/orders/", order_body(sandbox.create_token("4111111111111111"), **patch),
                        format="json")
    assert response.status_code == 400
    assert not Order.objects.exists() and sandbox.calls() == []
