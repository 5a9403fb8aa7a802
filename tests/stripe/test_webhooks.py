"""Signed webhook deliveries from the sandbox, and ``webhooks.verify`` against forged and stale requests."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from gateways.stripe import webhooks

from .conftest import WEBHOOK_SECRET
from .test_konbini_adapter import issue


def wait_for(receiver, count: int, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(receiver.events()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return receiver.events()


def test_pay_delivers_a_signed_succeeded_event(gateway, sandbox, receiver):
    payment = issue(gateway)
    sandbox.stripe_pay(payment.intent_id, store="ministop")

    received = wait_for(receiver, 4)  # created, requires_action, charge.succeeded, payment_intent.succeeded
    assert all(r["ok"] for r in received)
    succeeded = next(r for r in received if r["type"] == "payment_intent.succeeded")
    event = json.loads(succeeded["body"])
    assert event["data"]["object"]["id"] == payment.intent_id
    assert event["data"]["object"]["status"] == "succeeded"
    # the official library accepts the sandbox's signature too (proves the scheme, not just our verifier)
    official = stripe.Webhook.construct_event(succeeded["body"], succeeded["header"], WEBHOOK_SECRET)
    assert official.id == event["id"]
    # every attempt is recorded with its answer
    attempts = sandbox.stripe_deliveries(event["id"])
    assert [(a["http_status"], a["ok"], a["reason"]) for a in attempts] == [(200, True, "initial")]
    assert json.loads(attempts[0]["answer"]) == {"received": True}


def test_expiry_through_the_clock_delivers_payment_failed(gateway, sandbox, receiver):
    payment = issue(gateway)
    sandbox.advance_clock((payment.expires_at - sandbox.now()).total_seconds() + 3601)

    failed = [e for e in sandbox.stripe_events() if e["type"] == "payment_intent.payment_failed"]

    assert len(failed) == 1 and failed[0]["data"]["object"]["id"] == payment.intent_id
    received = wait_for(receiver, 3)
    assert [r["type"] for r in received if r["type"] == "payment_intent.payment_failed"] == [
        "payment_intent.payment_failed"]


def test_expire_control_fails_at_once(gateway, sandbox, receiver):
    payment = issue(gateway)
    assert sandbox.stripe_expire(payment.intent_id)["status"] == "requires_payment_method"
    assert gateway.retrieve(payment.intent_id).product_status == "expired"
    assert wait_for(receiver, 3)[-1]["type"] == "payment_intent.payment_failed"


def test_duplicate_deliveries_are_recorded(gateway, sandbox, receiver):
    payment = issue(gateway)
    wait_for(receiver, 2)
    event_id = sandbox.stripe_events()[-1]["id"]

    sandbox.stripe_redeliver(event_id, times=2)

    attempts = sandbox.stripe_deliveries(event_id, wait_for=3)
    assert [a["reason"] for a in attempts] == ["initial", "redeliver", "redeliver"]
    assert [r["id"] for r in wait_for(receiver, 4)].count(event_id) == 3
    assert payment.intent_id  # same event id every time: the receiver dedupes on it
    # each attempt is signed afresh, and each passes verification
    assert all(r["ok"] for r in receiver.events())


def test_held_events_are_released_out_of_order(gateway, sandbox, receiver):
    sandbox.stripe_hold_webhooks()
    payment = issue(gateway)
    sandbox.stripe_pay(payment.intent_id)
    created = [e["id"] for e in sandbox.stripe_events()]
    assert receiver.events() == [] and sandbox.stripe_deliveries() == []

    released = sandbox.stripe_release_webhooks("reverse")

    assert released == created[::-1]
    received = wait_for(receiver, len(created))
    assert [r["id"] for r in received] == created[::-1]  # succeeded arrives before requires_action
    assert received[0]["type"] == "payment_intent.succeeded"


def test_release_in_an_explicit_order(gateway, sandbox, receiver):
    sandbox.stripe_hold_webhooks()
    issue(gateway)
    first, second = [e["id"] for e in sandbox.stripe_events()]
    assert sandbox.stripe_release_webhooks([second, first]) == [second, first]
    assert [r["id"] for r in wait_for(receiver, 2)] == [second, first]


def test_burst_of_parallel_duplicates(gateway, sandbox, receiver):
    issue(gateway)
    wait_for(receiver, 2)
    event_id = sandbox.stripe_events()[0]["id"]

    sandbox.stripe_redeliver(event_id, times=5, parallel=True)

    attempts = sandbox.stripe_deliveries(event_id, wait_for=6)
    assert sorted(a["reason"] for a in attempts) == ["burst"] * 5 + ["initial"]
    assert all(a["ok"] for a in attempts)


def test_failed_delivery_is_retried_and_recorded(gateway, sandbox, receiver):
    receiver.secret = "whsec_someone_else"  # our endpoint rejects every signature with 400
    issue(gateway)
    event_id = sandbox.stripe_events()[0]["id"]

    attempts = sandbox.stripe_deliveries(event_id, wait_for=3)

    assert [(a["attempt"], a["http_status"], a["ok"]) for a in attempts] == [(1, 400, False), (2, 400, False),
                                                                             (3, 400, False)]


# ---- verify() on its own ---------------------------------------------------------------------------------

BODY = json.dumps({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
                   "data": {"object": {"id": "pi_1"}}}, separators=(",", ":")).encode()


def header(body: bytes = BODY, secret: str = WEBHOOK_SECRET, t: int | None = None) -> str:
    t = int(time.time()) if t is None else t
    return f"t={t},v1={webhooks.signature(body, secret, t)}"


def test_verify_accepts_a_good_signature_among_others():
    t = int(time.time())
    rolled = f"t={t},v1={'0' * 64},v1={webhooks.signature(BODY, WEBHOOK_SECRET, t)},v0=decoy"
    assert webhooks.verify(BODY, rolled, WEBHOOK_SECRET)["id"] == "evt_1"
    assert webhooks.verify(BODY.decode(), header(), WEBHOOK_SECRET)["type"] == "payment_intent.succeeded"


@pytest.mark.parametrize("forged", [
    header(secret="whsec_attacker"),  # signed with another secret
    header().replace("v1=", "v0="),  # only a non-v1 scheme: downgrade refused
    header(body=BODY.replace(b"pi_1", b"pi_2")),  # signature of other bytes
    "t=notanumber,v1=abc",
    "garbage",
])
def test_verify_refuses_forged_signatures(forged):
    with pytest.raises(webhooks.BadSignature):
        webhooks.verify(BODY, forged, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):  # the official library agrees
        stripe.Webhook.construct_event(BODY, forged, WEBHOOK_SECRET)


def test_verify_refuses_a_tampered_body():
    with pytest.raises(webhooks.BadSignature):
        webhooks.verify(BODY + b" ", header(), WEBHOOK_SECRET)


def test_verify_refuses_a_stale_timestamp():
    stale = header(t=int(time.time()) - 301)
    with pytest.raises(webhooks.StaleTimestamp):
        webhooks.verify(BODY, stale, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(BODY, stale, WEBHOOK_SECRET, tolerance=300)
    # explicit now: 299 s old is fine, and the check is one-sided (future timestamps pass, as in Stripe's libs)
    assert webhooks.verify(BODY, header(t=1_000_000), WEBHOOK_SECRET, now=1_000_299)
    assert webhooks.verify(BODY, header(t=1_000_000), WEBHOOK_SECRET, now=999_000)


def test_verify_refuses_missing_header_and_malformed_payload():
    with pytest.raises(webhooks.MissingSignature):
        webhooks.verify(BODY, None, WEBHOOK_SECRET)
    with pytest.raises(webhooks.MissingSignature):
        webhooks.verify(BODY, "", WEBHOOK_SECRET)
    for body in (b"not json", b"[1,2]", json.dumps({"object": "payment_intent"}).encode()):
        with pytest.raises(webhooks.MalformedPayload):
            webhooks.verify(body, header(body), WEBHOOK_SECRET)
