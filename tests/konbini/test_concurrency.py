"""Konbini bookings racing for the last seats on PostgreSQL: the slot lock decides who is confirmed, and only
the confirmed get numbers (one Stripe create each, none for the waitlist)."""

from __future__ import annotations

import pytest

from payments.models import OperationKind, Payment, PaymentOperation, Status
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from reservations.selectors import seats_left, seats_taken
from tests.reservations.helpers import SYSTEM, book, make_slot
from tests.reservations.test_concurrency import run_at_once

from .flow_helpers import numbers_mail_ok, stripe_calls

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_konbini_bookings_for_five_seats(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, waitlist=True, capacity=8, price=2000)
    book(slot, seats=3)  # 5 seats remain (a booking without online payment)

    results = run_at_once([
        lambda i=i: payment_flow.book(slot, name=f"客{i}", email=f"guest{i}@example.com", by=SYSTEM,
                                      payment_method="konbini")
        for i in range(20)])

    assert [r for r in results if not isinstance(r, Reservation)] == []
    confirmed = [r for r in results if r.status == R.CONFIRMED]
    waitlisted = [r for r in results if r.status == R.WAITLISTED]
    assert (len(confirmed), len(waitlisted)) == (5, 15)
    assert seats_taken(slot) == 8 and seats_left(slot) == 0

    creates = stripe_calls(sandbox, "payment_intents.create")
    assert len(creates) == 5 and all(c["http_status"] == 200 for c in creates)
    paid_ids = {c["params"]["metadata[payment_id]"] for c in creates}
    confirmed_payments = Payment.objects.filter(reservation__in=confirmed)
    assert paid_ids == {str(p.pk) for p in confirmed_payments}  # exactly the confirmed ones, once each
    for payment in confirmed_payments:
        assert payment.status == Status.AWAITING_PAYMENT and payment.external_id.startswith("pi_")
        assert sandbox.stripe_intent(payment.external_id)["amount"] == 2000
        assert numbers_mail_ok(payment)
    assert len({p.external_id for p in confirmed_payments}) == 5
    for payment in Payment.objects.filter(reservation__in=waitlisted):
        assert (payment.status, payment.external_id, payment.konbini_numbers) == (Status.AWAITING_APPROVAL, "", {})
    assert not PaymentOperation.objects.filter(payment__reservation__in=waitlisted,
                                               kind=OperationKind.ISSUE_NUMBERS).exists()
