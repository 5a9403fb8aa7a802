import time

from django.core import mail

from payments.models import Payment, Status
from reservations import payment_flow
from reservations.models import AcceptanceMode
from reservations.models import Status as R
from tests.factories import UserFactory, member
from tests.reservations.helpers import SYSTEM, make_slot


def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_first_come_paid_then_webhook(konbini_shop, sandbox, webhooks_to_us, transactional_db):
    member(konbini_shop, "operator", UserFactory(email="ops@example.com"))  # staff to notify
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3000)
    r = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", seats=2, by=SYSTEM,
                          payment_method="konbini")
    assert r.status == R.CONFIRMED
    p = r.payment
    assert p.status == Status.AWAITING_PAYMENT, p.status
    assert p.konbini_numbers["stores"]["lawson"]["payment_code"]
    assert any("payment numbers" in m.subject or "支払い番号" in m.subject for m in mail.outbox), [m.subject for m in mail.outbox]
    sandbox.stripe_pay(p.external_id)
    assert wait_for(lambda: Payment.objects.get(pk=p.pk).status == Status.PAID)
    assert wait_for(lambda: len(mail.outbox) == 2), [m.subject for m in mail.outbox]
