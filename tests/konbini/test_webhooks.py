"""Our Stripe webhook endpoint under what Stripe (and attackers) really send: forged and stale signatures,
replays, late and reordered events, and a burst of duplicates (SPEC 3.3: verify, dedupe by event id, never
move a payment backwards)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings

from gateways.sandbox.stripe_konbini import DEFAULT_KEYS
from payments.models import OperationKind, PaymentOperation, Status, StripeEvent
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from tests.factories import ShopFactory
from tests.reservations.helpers import SYSTEM, make_slot

from .conftest import WEBHOOK_SECRET
from .flow_helpers import (
    event_of,
    fake_event,
    fresh,
    mails_of,
    notice,
    notified_staff,
    numbers_mail_ok,
    payment_of,
    post_event,
    signed,
    syncs_for,
    transitions,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("webhooks_to_us")


@pytest.fixture
def awaiting(konbini_shop, sandbox):
    """A confirmed reservation whose konbini numbers are issued, with the issue's own events processed."""
    notified_staff(konbini_shop)
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=2500)
    reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", by=SYSTEM,
                                    payment_method="konbini")
    payment = payment_of(reservation)
    assert payment.status == Status.AWAITING_PAYMENT
    assert wait_for(lambda: numbers_mail_ok(payment))
    # payment_intent.created + requires_action: recorded and processed (no change) before the test starts
    assert wait_for(lambda: StripeEvent.objects.filter(shop=konbini_shop, processed_at__isnull=False).count() == 2)
    return reservation, payment


def event_rows(shop) -> int:
    return StripeEvent.objects.filter(shop=shop).count()


def processed_by(event_id: str) -> list[PaymentOperation]:
    """The status checks run for one event: its processing, however often it was delivered."""
    return list(PaymentOperation.objects.filter(kind=OperationKind.SYNC, actor_label__endswith=event_id))


def local_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # an inherited HTTP(S)_PROXY must not capture loopback requests
    return session


# ---- authenticity -----------------------------------------------------------------------------------------


def forged_headers(event) -> dict[str, str]:
    now = int(time.time())
    good = signed(event, WEBHOOK_SECRET, now)[1]
    return {
        "missing": "",
        "wrong secret": signed(event, "whsec_guessed", now)[1],
        "v0 only": good.replace("v1=", "v0="),
        "garbage": "nonsense",
        "no timestamp": good.split(",", 1)[1],
        "other timestamp": good.replace(f"t={now}", f"t={now - 1}"),
    }


def test_forged_signatures_are_refused_and_change_nothing(client, konbini_shop, sandbox, awaiting):
    _reservation, payment = awaiting
    intent = sandbox.stripe_intent(payment.external_id)
    forged = fake_event("payment_intent.succeeded", {**intent, "status": "succeeded"})
    rows, checks = event_rows(konbini_shop), syncs_for(payment)

    for kind, header in forged_headers(forged).items():
        response = post_event(client, konbini_shop.code, forged, WEBHOOK_SECRET, header=header)
        assert response.status_code == 400, kind
        assert event_rows(konbini_shop) == rows and syncs_for(payment) == checks, kind  # not recorded nor run
    assert fresh(payment).status == Status.AWAITING_PAYMENT
    # the very same event, signed properly, is accepted: the refusals above were the signatures
    assert post_event(client, konbini_shop.code, forged, WEBHOOK_SECRET).status_code == 200
    assert event_rows(konbini_shop) == rows + 1
    assert fresh(payment).status == Status.AWAITING_PAYMENT  # and Stripe's word, not the payload, decides


def test_tampered_body_is_refused(client, konbini_shop, sandbox, awaiting):
    _reservation, payment = awaiting
    event = fake_event("payment_intent.requires_action", sandbox.stripe_intent(payment.external_id))
    body, header = signed(event, WEBHOOK_SECRET)
    tampered = body.replace(b'"requires_action"', b'"succeeded"')
    assert tampered != body
    rows = event_rows(konbini_shop)

    response = client.post(f"/gateways/stripe/webhook/{konbini_shop.code}/", data=tampered,
                           content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    assert response.status_code == 400 and event_rows(konbini_shop) == rows


def test_stale_timestamp_is_refused_fresh_enough_is_accepted(client, konbini_shop, sandbox, awaiting):
    _reservation, payment = awaiting
    intent = sandbox.stripe_intent(payment.external_id)
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    stale = fake_event("payment_intent.requires_action", intent)
    rows = event_rows(konbini_shop)

    response = post_event(client, konbini_shop.code, stale, WEBHOOK_SECRET, timestamp=int(time.time()) - tolerance - 5)

    assert response.status_code == 400 and response.json()["error"] == "StaleTimestamp"
    assert event_rows(konbini_shop) == rows
    # the same signature scheme, inside the window: accepted (so the 400 above is the age, not the signature)
    fresh_enough = fake_event("payment_intent.requires_action", intent)
    ok = post_event(client, konbini_shop.code, fresh_enough, WEBHOOK_SECRET,
                    timestamp=int(time.time()) - tolerance + 30)
    assert ok.status_code == 200 and event_rows(konbini_shop) == rows + 1


def test_unknown_shop_code_is_404(client, konbini_shop, sandbox, awaiting):
    _reservation, payment = awaiting
    event = fake_event("payment_intent.succeeded", sandbox.stripe_intent(payment.external_id))
    rows = StripeEvent.objects.count()

    response = post_event(client, "no-such-shop", event, WEBHOOK_SECRET)

    assert response.status_code == 404 and StripeEvent.objects.count() == rows


def test_another_shops_secret_is_refused(client, konbini_shop, sandbox, awaiting):
    """A valid signature, but made with another shop's signing secret: not this endpoint's sender."""
    _reservation, payment = awaiting
    other = ShopFactory()
    other.set_stripe_secret_key(DEFAULT_KEYS[1])
    other.set_stripe_webhook_secret("whsec_other_shop_secret")
    other.save()
    event = fake_event("payment_intent.succeeded", sandbox.stripe_intent(payment.external_id))

    refused = post_event(client, konbini_shop.code, event, "whsec_other_shop_secret")

    assert refused.status_code == 400 and refused.json()["error"] == "BadSignature"
    assert not StripeEvent.objects.filter(event_id=event["id"]).exists()
    # at the other shop's own URL the same signature is fine, and the event is NOT applied to our payment
    accepted = post_event(client, other.code, event, "whsec_other_shop_secret")
    assert accepted.status_code == 200
    row = StripeEvent.objects.get(shop=other, event_id=event["id"])
    assert row.result.startswith("ignored") and fresh(payment).status == Status.AWAITING_PAYMENT


def test_event_for_an_unknown_payment_intent_is_acknowledged_and_ignored(client, konbini_shop, sandbox, awaiting):
    _reservation, payment = awaiting
    intent = {**sandbox.stripe_intent(payment.external_id), "id": "pi_NotOursAtAll000000000000"}
    event = fake_event("payment_intent.succeeded", {**intent, "status": "succeeded"})
    checks = PaymentOperation.objects.filter(kind=OperationKind.SYNC).count()

    response = post_event(client, konbini_shop.code, event, WEBHOOK_SECRET)

    assert response.status_code == 200
    row = StripeEvent.objects.get(shop=konbini_shop, event_id=event["id"])
    assert row.processed_at is not None and row.result.startswith("ignored")
    assert PaymentOperation.objects.filter(kind=OperationKind.SYNC).count() == checks  # Stripe not even asked
    assert fresh(payment).status == Status.AWAITING_PAYMENT


# ---- duplicates and order -------------------------------------------------------------------------------


def test_replayed_event_is_acknowledged_counted_and_not_processed_again(konbini_shop, sandbox, awaiting):
    _reservation, payment = awaiting
    sandbox.stripe_pay(payment.external_id)
    assert wait_for(lambda: fresh(payment).status == Status.PAID)
    succeeded = event_of(sandbox, "payment_intent.succeeded", payment.external_id)
    assert wait_for(lambda: StripeEvent.objects.filter(event_id=succeeded["id"], processed_at__isnull=False).exists())

    sandbox.stripe_redeliver(succeeded["id"], times=3)

    attempts = sandbox.stripe_deliveries(succeeded["id"], wait_for=4)
    assert [(a["reason"], a["http_status"]) for a in attempts] == [("initial", 200)] + [("redeliver", 200)] * 3
    assert [a["answer"] for a in attempts[1:]] == ['{"received": true, "duplicate": true}'] * 3
    assert StripeEvent.objects.get(event_id=succeeded["id"]).deliveries == 4
    assert len(processed_by(succeeded["id"])) == 1
    assert len(transitions(payment, Status.PAID)) == 1
    assert len(mails_of("konbini_paid", payment)) == 1


def test_late_payment_failed_after_succeeded_keeps_paid(client, konbini_shop, sandbox, awaiting):
    reservation, payment = awaiting
    sandbox.stripe_pay(payment.external_id)
    assert wait_for(lambda: fresh(payment).status == Status.PAID)
    assert wait_for(lambda: len(mails_of("konbini_paid", payment)) == 1)
    # A payment_failed that Stripe "sent" earlier and that arrives last (signed with the real secret).
    expired_shape = {**sandbox.stripe_intent(payment.external_id), "status": "requires_payment_method",
                     "last_payment_error": {"code": "payment_intent_payment_attempt_expired"}}
    late = fake_event("payment_intent.payment_failed", expired_shape)
    late["created"] -= 3600

    response = post_event(client, konbini_shop.code, late, WEBHOOK_SECRET)

    assert response.status_code == 200
    assert StripeEvent.objects.get(event_id=late["id"]).processed_at is not None
    assert fresh(payment).status == Status.PAID
    assert transitions(payment, Status.EXPIRED) == []
    assert notice("konbini_expired", payment) is None
    assert fresh(reservation).status == R.CONFIRMED


def test_events_released_in_reverse_order_end_in_stripes_final_state(konbini_shop, sandbox, awaiting):
    """Expired, re-confirmed by the customer's new voucher, then paid: delivered newest first, the
    payment_failed arrives last and must not undo the payment."""
    _reservation, payment = awaiting
    sandbox.stripe_hold_webhooks()
    sandbox.stripe_expire(payment.external_id)
    # At Stripe, an expired konbini PaymentIntent can be confirmed again (new numbers), then paid.
    stripe_api = local_session()
    confirmed = stripe_api.post(f"{settings.STRIPE_API_BASE}/v1/payment_intents/{payment.external_id}/confirm",
                                auth=(DEFAULT_KEYS[0], ""), timeout=5)
    assert confirmed.json()["status"] == "requires_action"
    sandbox.stripe_pay(payment.external_id)
    held = [e["type"] for e in sandbox.stripe_events()][-4:]
    assert held == ["payment_intent.payment_failed", "payment_intent.requires_action", "charge.succeeded",
                    "payment_intent.succeeded"]

    released = sandbox.stripe_release_webhooks("reverse")

    assert len(released) == 4
    assert wait_for(lambda: StripeEvent.objects.filter(event_id__in=released, processed_at__isnull=False)
                    .count() == 4)
    assert fresh(payment).status == Status.PAID
    assert transitions(payment, Status.EXPIRED) == [] and len(transitions(payment, Status.PAID)) == 1
    assert notice("konbini_expired", payment) is None
    assert wait_for(lambda: len(mails_of("konbini_paid", payment)) == 1)


def test_burst_of_200_duplicates_changes_the_payment_once_and_mails_once(konbini_shop, sandbox, awaiting,
                                                                         webhooks_to_us):
    reservation, payment = awaiting
    sandbox.stripe_hold_webhooks()  # the original deliveries wait: every copy below races the first change
    sandbox.stripe_pay(payment.external_id)
    succeeded = event_of(sandbox, "payment_intent.succeeded", payment.external_id)
    body, header = signed(succeeded, WEBHOOK_SECRET)
    copies, workers = 200, 16  # bounded: each in-flight request holds a database connection
    start = threading.Barrier(workers)

    def deliver(batch: int) -> list[tuple[int, bool]]:
        session = local_session()
        start.wait(timeout=10)
        answers = []
        for _ in range(batch):
            answer = session.post(webhooks_to_us, data=body, timeout=30, headers={
                "Content-Type": "application/json", "Stripe-Signature": header})
            answers.append((answer.status_code, answer.json().get("duplicate")))
        return answers

    with ThreadPoolExecutor(workers) as pool:
        batches = [copies // workers + (i < copies % workers) for i in range(workers)]
        answers = [a for result in pool.map(deliver, batches) for a in result]

    assert len(answers) == copies and {status for status, _ in answers} == {200}
    assert [duplicate for _, duplicate in answers].count(False) == 1  # exactly one was new
    assert wait_for(lambda: fresh(payment).status == Status.PAID), [
        (op.state, op.status_after, op.resolution, op.error_message) for op in processed_by(succeeded["id"])] + [
        StripeEvent.objects.get(event_id=succeeded["id"]).result]
    sandbox.stripe_release_webhooks()  # Stripe's own (late) delivery: one more duplicate
    assert wait_for(lambda: StripeEvent.objects.get(event_id=succeeded["id"]).deliveries == copies + 1)

    assert len(processed_by(succeeded["id"])) == 1
    assert len(transitions(payment, Status.PAID)) == 1
    assert wait_for(lambda: len(mails_of("konbini_paid", payment)) == 1)
    time.sleep(0.2)  # a second mail, if any, would have been sent by now
    assert len(mails_of("konbini_paid", payment)) == 1
    assert Reservation.objects.get(pk=reservation.pk).status == R.CONFIRMED
