"""Claims API (issue #9 item 5): the shop's site cancels, lists and withdraws on behalf of the customer."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from claims import services
from claims.models import Claim, ClaimState, RefundState
from orders.models import Delivery
from payments.actors import Actor
from payments.models import Status
from tests.claims.helpers import bank_order, card_order

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_api")]

SYSTEM = Actor.system("test")


@pytest.mark.parametrize("delivery", [Delivery.NEW, Delivery.DELAYED])
def test_cancel_completes_with_the_refund(api, shop, sandbox, delivery):
    order = card_order(shop, sandbox, state=delivery)
    response = api.post(f"/api/v1/orders/{order.pk}/cancel/", {"note": "間違えました"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "cancelled"
    assert body["message"] == "The order is cancelled and ¥5,000 is refunded."
    assert body["claim"]["state"] == ClaimState.DONE and body["claim"]["refund_state"] == RefundState.DONE
    assert body["claim"]["refund_amount"] == 5000 and body["claim"]["refund_linked"] is True
    assert body["order"]["id"] == order.pk
    order.payment.refresh_from_db()
    assert order.payment.status == Status.VOIDED


def test_preparing_is_a_request_then_listed_and_withdrawn(api, shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    response = api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "requested" and body["claim"]["state"] == ClaimState.REQUESTED
    assert "sent to the shop" in body["message"]
    order.payment.refresh_from_db()
    assert order.payment.status == Status.AUTHORIZED

    claim = Claim.objects.get(pk=body["claim"]["id"])
    deadline = timezone.now() + timedelta(days=2)
    services.ask_withdrawal(claim, deadline=deadline, seller_memo="本日発送予定です。撤回をお願いします。", by=SYSTEM)
    Claim.objects.filter(pk=claim.pk).update(internal_memo="INTERNAL-ONLY")

    listed = api.get(f"/api/v1/orders/{order.pk}/claims/")
    assert listed.status_code == 200
    [row] = listed.json()
    assert row["state"] == ClaimState.WITHDRAWAL_REQUESTED and row["reason"] == "customer_request"
    assert row["seller_memo"] == "本日発送予定です。撤回をお願いします。" and row["withdrawal_deadline"]
    assert row["refund_state"] == RefundState.NONE
    assert "internal_memo" not in row and "INTERNAL-ONLY" not in listed.content.decode()

    withdrawn = api.post(f"/api/v1/claims/{claim.pk}/withdraw/", format="json")
    assert withdrawn.status_code == 200, withdrawn.json()
    assert withdrawn.json()["state"] == ClaimState.WITHDRAWN
    # Withdrawn again: the service refuses with its code and message.
    again = api.post(f"/api/v1/claims/{claim.pk}/withdraw/", format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] in ("invalid_transition", "changed_meanwhile")
    assert "withdrawn" in again.json()["error"]["message"].lower()


@pytest.mark.parametrize("delivery", [Delivery.SHIPPING, Delivery.DELIVERED])
def test_invalid_state_is_409_and_changes_nothing(api, shop, sandbox, delivery):
    order = card_order(shop, sandbox, state=delivery)
    calls = len(sandbox.calls())
    response = api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition" and error["message"]
    assert not Claim.objects.exists() and len(sandbox.calls()) == calls


def test_an_open_request_cannot_be_filed_twice(api, shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    assert api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json").status_code == 200
    second = api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json")
    assert second.status_code == 409 and second.json()["error"]["message"]
    assert Claim.objects.filter(order=order).count() == 1


def test_another_shops_order_and_claim_are_404(api, other_api, shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    assert other_api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json").status_code == 404
    assert not Claim.objects.exists()
    api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json")
    claim = Claim.objects.get()
    services.ask_withdrawal(claim, deadline=timezone.now() + timedelta(days=1), seller_memo="x", by=SYSTEM)
    assert other_api.get(f"/api/v1/orders/{order.pk}/claims/").status_code == 404
    foreign = other_api.post(f"/api/v1/claims/{claim.pk}/withdraw/", format="json")
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    claim.refresh_from_db()
    assert claim.state == ClaimState.WITHDRAWAL_REQUESTED
    assert api.get("/api/v1/orders/999999/claims/").status_code == 404


def test_idempotency_key_replays_the_answer(api, shop, sandbox):
    order = card_order(shop, sandbox)
    headers = {"HTTP_IDEMPOTENCY_KEY": "cancel-1"}
    first = api.post(f"/api/v1/orders/{order.pk}/cancel/", {}, format="json", **headers)
    assert first.status_code == 200
    calls = len(sandbox.calls())
    second = api.post(f"/api/v1/orders/{order.pk}/cancel/", {}, format="json", **headers)
    assert second.status_code == 200 and second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Claim.objects.filter(order=order).count() == 1 and len(sandbox.calls()) == calls
    # Same key, other body: refused.
    other = api.post(f"/api/v1/orders/{order.pk}/cancel/", {"note": "x"}, format="json", **headers)
    assert other.status_code == 422


def test_a_refusal_is_replayed_too(api, shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.SHIPPING)
    headers = {"HTTP_IDEMPOTENCY_KEY": "cancel-shipped"}
    first = api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json", **headers)
    second = api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json", **headers)
    assert first.status_code == second.status_code == 409
    assert second["Idempotent-Replayed"] == "true"


def test_schema_covers_the_claims_endpoints(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text(encoding="utf-8")
    for path in ["/api/v1/orders/{id}/cancel/", "/api/v1/orders/{id}/claims/", "/api/v1/claims/{id}/withdraw/"]:
        assert f"{path}:" in text
    assert "internal_memo" not in text


def test_bank_transfer_cancel_keeps_the_fee_and_opens_a_manual_refund(api, shop):
    order = bank_order(shop, state=Delivery.DELAYED)
    response = api.post(f"/api/v1/orders/{order.pk}/cancel/", format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "cancelled" and body["claim"]["refund_linked"] is False
    assert body["claim"]["refund_amount"] == 5000 and body["claim"]["fee_refund_amount"] == 0  # ¥330 kept back
    claim = Claim.objects.get(pk=body["claim"]["id"])
    assert claim.refund_task is not None and claim.refund_task.amount == 5000
    assert "5,000" in body["message"]
