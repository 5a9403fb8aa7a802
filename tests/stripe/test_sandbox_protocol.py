"""Sandbox details the adapter tests do not reach: form decoding, events API, re-confirm, magic values."""

from __future__ import annotations

import requests

from gateways.sandbox.stripe_konbini import decode_form

from .conftest import SHOP_KEY
from .test_konbini_adapter import issue


def test_decode_form_bracket_notation():
    pairs = [("amount", "3000"), ("allowed_payment_method_types[0]", "konbini"),
             ("payment_method_options[konbini][expires_after_days]", "3"), ("expand[]", "latest_charge"),
             ("payment_method_data[billing_details][name]", "山田"), ("metadata[order]", "A-1")]
    assert decode_form(pairs) == {
        "amount": "3000", "allowed_payment_method_types": ["konbini"], "expand": ["latest_charge"],
        "payment_method_options": {"konbini": {"expires_after_days": "3"}},
        "payment_method_data": {"billing_details": {"name": "山田"}}, "metadata": {"order": "A-1"}}


def api(sandbox_server, method, path, **kwargs):
    return requests.request(method, f"{sandbox_server.url}{path}", timeout=3,
                            headers={"Authorization": f"Bearer {SHOP_KEY}"}, **kwargs)


def test_events_retrieve_and_list_with_pagination(gateway, sandbox, sandbox_server):
    payment = issue(gateway)
    sandbox.stripe_pay(payment.intent_id)
    events = sandbox.stripe_events()  # oldest first

    one = api(sandbox_server, "GET", f"/v1/events/{events[0]['id']}").json()
    assert one["id"] == events[0]["id"] and one["object"] == "event"
    page = api(sandbox_server, "GET", "/v1/events", params={"limit": 2}).json()
    assert [e["id"] for e in page["data"]] == [e["id"] for e in events[::-1][:2]] and page["has_more"]
    rest = api(sandbox_server, "GET", "/v1/events",
               params={"limit": 10, "starting_after": page["data"][-1]["id"]}).json()
    assert [e["id"] for e in rest["data"]] == [e["id"] for e in events[::-1][2:]] and not rest["has_more"]
    typed = api(sandbox_server, "GET", "/v1/events", params={"type": "payment_intent.succeeded"}).json()
    assert [e["type"] for e in typed["data"]] == ["payment_intent.succeeded"]
    since = api(sandbox_server, "GET", "/v1/events", params={"created[gte]": events[0]["created"]}).json()
    assert len(since["data"]) == len(events)
    missing = api(sandbox_server, "GET", "/v1/events/evt_nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"


def test_reconfirm_issues_new_numbers_and_kills_the_old_voucher(gateway, sandbox, sandbox_server):
    payment = issue(gateway)
    body = {"payment_method_options[konbini][expires_after_days]": "7"}
    again = api(sandbox_server, "POST", f"/v1/payment_intents/{payment.intent_id}/confirm", data=body).json()
    details = again["next_action"]["konbini_display_details"]
    assert details["hosted_voucher_url"] != payment.hosted_voucher_url
    assert requests.get(payment.hosted_voucher_url, timeout=3).status_code == 404


def test_create_without_confirm_then_confirm_validation(gateway, sandbox, sandbox_server):
    created = api(sandbox_server, "POST", "/v1/payment_intents",
                  data={"amount": "1500", "currency": "jpy", "payment_method_types[0]": "konbini"}).json()
    assert created["status"] == "requires_payment_method" and created["next_action"] is None
    no_email = api(sandbox_server, "POST", f"/v1/payment_intents/{created['id']}/confirm",
                   data={"payment_method_data[type]": "konbini",
                         "payment_method_data[billing_details][name]": "山田 花子"})
    assert no_email.status_code == 400
    assert no_email.json()["error"]["param"] == "payment_method_data[billing_details][email]"
    both = api(sandbox_server, "POST", f"/v1/payment_intents/{created['id']}/confirm",
               data={"payment_method_options[konbini][expires_after_days]": "3",
                     "payment_method_options[konbini][expires_at]": "9999999999"})
    assert both.json()["error"]["code"] == "parameters_exclusive"


def test_magic_emails(gateway):
    paid = gateway.create_voucher(2000, "山田 花子", "hanako+succeed_immediately@example.com", 3)
    assert paid.status == "succeeded"
    expired = gateway.create_voucher(2000, "山田 花子", "hanako+expire_immediately@example.com", 3)
    assert expired.product_status == "expired"


def test_rejected_confirmation_number(sandbox, sandbox_server):
    response = api(sandbox_server, "POST", "/v1/payment_intents", data={
        "amount": "1500", "currency": "jpy", "confirm": "true", "payment_method_types[0]": "konbini",
        "payment_method_options[konbini][confirmation_number]": "01234567890",
        "payment_method_data[type]": "konbini", "payment_method_data[billing_details][name]": "A",
        "payment_method_data[billing_details][email]": "a@example.com"})
    assert response.json()["error"]["code"] == "payment_intent_konbini_rejected_confirmation_number"


def test_reset_clears_state(gateway, sandbox, sandbox_server):
    payment = issue(gateway)
    sandbox.reset()
    assert sandbox.stripe_events() == [] and sandbox.stripe_intent(payment.intent_id) is None
