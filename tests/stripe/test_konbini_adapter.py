"""The konbini adapter (official SDK) against the Stripe-compatible sandbox over real HTTP."""

from __future__ import annotations

import socket

import pytest
import requests

from gateways.base import GatewayNotSent, GatewayRefused, TransactionNotFound
from gateways.stripe.konbini import STORES, AmountOutOfRange, InvalidKonbiniRequest, StripeKonbiniGateway

from .conftest import SHOP_KEY


def issue(gateway, amount=3000, **kwargs):
    return gateway.create_voucher(amount, "山田 花子", "hanako@example.com", 3, **kwargs)


def test_create_and_confirm_gives_numbers_for_every_store(gateway, sandbox):
    payment = gateway.create_voucher(3000, "山田 花子", "hanako@example.com", 5, product_description="ご予約代金",
                                     metadata={"reservation": "R-1"})

    assert payment.status == "requires_action" and payment.product_status == "awaiting_payment"
    assert payment.intent_id.startswith("pi_") and payment.amount == 3000
    assert set(payment.stores) == set(STORES)
    for code in payment.stores.values():
        assert code.payment_code.isdigit() and code.confirmation_number and code.confirmation_number.isdigit()
    # 5 JST calendar days after confirmation, 23:59:59 JST
    assert (payment.expires_at.hour, payment.expires_at.minute, payment.expires_at.second) == (23, 59, 59)
    assert (payment.expires_at.date() - sandbox.now().date()).days == 5
    assert requests.get(payment.hosted_voucher_url, timeout=3).status_code == 200
    # what went on the wire: 16.x param names, nested konbini options, billing details
    (call,) = sandbox.calls("payment_intents.create")
    assert call["params"]["allowed_payment_method_types[0]"] == "konbini"
    assert call["params"]["payment_method_options[konbini][expires_after_days]"] == "5"
    assert call["params"]["payment_method_data[billing_details][name]"] == "山田 花子"
    assert payment.raw["metadata"] == {"reservation": "R-1"}
    assert [e["type"] for e in sandbox.stripe_events()] == ["payment_intent.created",
                                                            "payment_intent.requires_action"]


@pytest.mark.parametrize("amount", [119, 300_001, 0, -5])
def test_amount_outside_konbini_limits_is_refused_before_any_http_call(gateway, sandbox, amount):
    with pytest.raises(AmountOutOfRange, match="120-300,000 JPY"):
        issue(gateway, amount)
    assert sandbox.calls() == []


@pytest.mark.parametrize("amount", [120, 300_000])
def test_amount_limits_are_inclusive(gateway, amount):
    assert issue(gateway, amount).amount == amount


def test_other_local_checks_send_nothing(gateway, sandbox):
    with pytest.raises(InvalidKonbiniRequest):
        gateway.create_voucher(3000, "山田 花子", "hanako@example.com", 61)
    with pytest.raises(InvalidKonbiniRequest):
        gateway.create_voucher(3000, "", "hanako@example.com", 3)
    assert sandbox.calls() == []


def test_sandbox_itself_refuses_amounts_out_of_range(sandbox_server, sandbox):
    """Without our local check Stripe would answer 400; the sandbox imitates that (code is an assumption)."""
    response = requests.post(f"{sandbox_server.url}/v1/payment_intents", timeout=3,
                             headers={"Authorization": f"Bearer {SHOP_KEY}"},
                             data={"amount": "119", "currency": "jpy", "payment_method_types[0]": "konbini"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "amount_too_small", "amount")
    assert response.headers["Request-Id"].startswith("req_")


def test_idempotent_create_returns_the_same_voucher(gateway, sandbox):
    first = issue(gateway, idempotency_key="ledger-op-1")
    again = issue(gateway, idempotency_key="ledger-op-1")

    assert again.intent_id == first.intent_id and again.stores == first.stores
    assert [e["type"] for e in sandbox.stripe_events()].count("payment_intent.created") == 1

    with pytest.raises(GatewayRefused) as refused:
        issue(gateway, 4000, idempotency_key="ledger-op-1")
    assert refused.value.errors[0].code == "idempotency_error"


def test_lost_answer_is_recovered_by_the_sdk_retry_with_the_same_key(sandbox, sandbox_server):
    """The first answer is dropped after the voucher was issued; the SDK's retry gets the stored answer."""
    gateway = StripeKonbiniGateway(SHOP_KEY, sandbox_server.url, timeout=3, max_network_retries=1)
    sandbox.set_faults(rules=[{"api": "payment_intents.create", "action": "drop_response", "times": 1}])

    payment = issue(gateway, idempotency_key="ledger-op-2")

    assert payment.status == "requires_action"
    assert [c["fault"] for c in sandbox.calls("payment_intents.create")] == ["drop_response", None]
    assert [e["type"] for e in sandbox.stripe_events()].count("payment_intent.created") == 1


def test_wrong_key_is_mapped_and_never_echoed(sandbox, sandbox_server):
    bad_key = "sk_test_not_registered_secret_123"
    gateway = StripeKonbiniGateway(bad_key, sandbox_server.url, timeout=3, max_network_retries=0)

    with pytest.raises(GatewayRefused) as refused:
        issue(gateway)

    assert refused.value.has("api_key_invalid")
    assert refused.value.errors[0].code == "invalid_request_error"
    assert bad_key not in str(refused.value) and bad_key not in repr(gateway)
    (call,) = sandbox.calls()
    assert call["http_status"] == 401


def test_cancel_a_pending_voucher_then_cancel_again(gateway, sandbox):
    payment = issue(gateway)

    cancelled = gateway.cancel(payment.intent_id, reason="requested_by_customer")

    assert cancelled.status == "canceled" and cancelled.product_status == "cancelled"
    assert sandbox.stripe_events()[-1]["type"] == "payment_intent.canceled"
    with pytest.raises(GatewayRefused) as refused:
        gateway.cancel(payment.intent_id)
    assert refused.value.has("payment_intent_unexpected_state")


def test_cancel_refused_while_customer_pays_at_the_register(gateway, sandbox):
    payment = issue(gateway)
    sandbox.stripe_set_paying(payment.intent_id, True)

    with pytest.raises(GatewayRefused):
        gateway.cancel(payment.intent_id)
    assert gateway.retrieve(payment.intent_id).product_status == "awaiting_payment"


def test_paid_voucher_cannot_be_cancelled_but_can_be_refunded(gateway, sandbox):
    payment = issue(gateway)
    with pytest.raises(GatewayRefused) as refused:
        gateway.refund(payment.intent_id)
    assert refused.value.has("charge_not_refundable")

    sandbox.stripe_pay(payment.intent_id, store="lawson")

    assert gateway.retrieve(payment.intent_id).product_status == "paid"
    with pytest.raises(GatewayRefused):
        gateway.cancel(payment.intent_id)
    refund = gateway.refund(payment.intent_id, amount=1000)
    assert (refund.status, refund.amount, refund.intent_id) == ("requires_action", 1000, payment.intent_id)
    with pytest.raises(GatewayRefused):
        gateway.refund(payment.intent_id, amount=2001)


def test_unknown_or_other_shops_intent_is_not_found(gateway, other_gateway):
    payment = issue(gateway)
    with pytest.raises(TransactionNotFound):
        gateway.retrieve("pi_doesnotexist")
    with pytest.raises(TransactionNotFound):
        other_gateway.retrieve(payment.intent_id)  # data is partitioned by secret key


def test_expiry_after_the_grace_period_reports_payment_failed(gateway, sandbox):
    payment = issue(gateway)
    until_deadline = (payment.expires_at - sandbox.now()).total_seconds()

    sandbox.advance_clock(until_deadline + 60)  # past the deadline, inside Stripe's ~1 h buffer
    assert gateway.retrieve(payment.intent_id).product_status == "awaiting_payment"

    sandbox.advance_clock(3600)
    sandbox.stripe_tick()
    expired = gateway.retrieve(payment.intent_id)
    assert expired.status == "requires_payment_method" and expired.product_status == "expired"
    assert expired.last_error_code == "payment_intent_payment_attempt_expired"
    assert sandbox.stripe_events()[-1]["type"] == "payment_intent.payment_failed"


def test_slip_paid_at_the_register_after_the_deadline_still_succeeds(gateway, sandbox):
    payment = issue(gateway)
    sandbox.advance_clock((payment.expires_at - sandbox.now()).total_seconds() + 600)
    assert sandbox.stripe_pay(payment.intent_id)["status"] == "succeeded"


def test_connection_refused_is_not_sent(sandbox):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    gateway = StripeKonbiniGateway(SHOP_KEY, f"http://127.0.0.1:{port}", timeout=2, max_network_retries=0)
    with pytest.raises(GatewayNotSent):
        issue(gateway)
