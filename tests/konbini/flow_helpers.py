"""Small helpers for the konbini flow tests (issue #7): waiting on asynchronous webhooks, reading the ledger,
the notices outbox and the sandbox's call log, and posting events we sign ourselves."""

from __future__ import annotations

import json
import secrets
import time

from django.core import mail

from gateways.stripe import webhooks
from notices.models import Notice
from payments.models import OperationKind, Payment, PaymentOperation
from reservations.models import Reservation
from tests.factories import UserFactory, member

OPS_EMAIL = "ops@example.com"
CUSTOMER_EMAIL = "hanako@example.com"


def wait_for(predicate, timeout: float = 8.0, interval: float = 0.03) -> bool:
    """Poll until ``predicate()`` is true (webhooks are delivered on the sandbox's threads)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def notified_staff(shop) -> str:
    """A shop operator with an e-mail address, so staff notices have somebody to go to."""
    member(shop, "operator", UserFactory(email=OPS_EMAIL))
    return OPS_EMAIL


def payment_of(reservation) -> Payment:
    return Reservation.objects.select_related("payment").get(pk=reservation.pk).payment


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def transitions(payment, to: str) -> list[PaymentOperation]:
    """Ledger rows that moved the payment INTO `to` (not the checks that found it there already)."""
    return [op for op in PaymentOperation.objects.filter(payment_id=payment.pk, status_after=to)
            if op.status_before != to]


def stripe_calls(sandbox, op: str) -> list[dict]:
    return sandbox.calls(op)


def notice(kind: str, payment) -> Notice | None:
    return Notice.objects.filter(key=f"{kind}:{payment.pk}").first()


def mails_of(kind: str, payment) -> list:
    """The sent mails of one notice (matched by its subject and recipients, whatever the language)."""
    found = notice(kind, payment)
    if found is None:
        return []
    return [m for m in mail.outbox if m.subject == found.subject and sorted(m.to) == sorted(found.recipients)]


def numbers_mail_ok(payment) -> bool:
    """The customer got one mail with every per-store payment code of this payment."""
    sent = mails_of("konbini_numbers", payment)
    codes = [s["payment_code"] for s in payment.konbini_numbers["stores"].values()]
    return (len(sent) == 1 and sent[0].to == [payment.payer_email] and bool(codes)
            and all(code in sent[0].body for code in codes))


def event_of(sandbox, type_: str, intent_id: str) -> dict:
    found = [e for e in sandbox.stripe_events() if e["type"] == type_ and e["data"]["object"]["id"] == intent_id]
    assert len(found) == 1, [e["type"] for e in sandbox.stripe_events()]
    return found[0]


def fake_event(type_: str, obj: dict) -> dict:
    """An event in Stripe's shape, with a new id (Stripe never sent it: we sign it ourselves)."""
    return {"id": "evt_test_" + secrets.token_hex(8), "object": "event", "api_version": "2026-10-28.endive",
            "created": int(time.time()), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": type_}


def signed(event: dict, secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    """(body, Stripe-Signature) as Stripe would send them for `event`."""
    body = json.dumps(event, separators=(",", ":")).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return body, f"t={timestamp},v1={webhooks.signature(body, secret, timestamp)}"


def post_event(client, shop_code: str, event: dict, secret: str, timestamp: int | None = None, header=None):
    body, signature = signed(event, secret, timestamp)
    return client.post(f"/gateways/stripe/webhook/{shop_code}/", data=body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=header if header is not None else signature)


def syncs_for(payment) -> int:
    return PaymentOperation.objects.filter(payment_id=payment.pk, kind=OperationKind.SYNC).count()
