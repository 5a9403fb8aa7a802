"""The demo seed runs through the sandbox and leaves every kind of payment the console shows."""

import pytest
from django.core.management import call_command

from payments.models import Method, Payment, Status
from reservations.models import Reservation
from reservations.models import Status as ReservationStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_covers_card_wallet_and_konbini_states(sandbox, sandbox_server):
    call_command("seed_demo", sandbox_url=sandbox_server.url)
    wallet = set(Payment.objects.filter(method=Method.RECRUIT).values_list("status", flat=True))
    assert {Status.AUTHORIZED, Status.CAPTURED, Status.NEEDS_CONFIRMATION, Status.PAYMENT_FAILED} <= wallet
    assert Payment.objects.filter(method=Method.RECRUIT, pending_amount__isnull=False).count() == 1
    card = set(Payment.objects.filter(method=Method.CARD).values_list("status", flat=True))
    assert {Status.AUTHORIZED, Status.CAPTURED, Status.VOIDED, Status.FAILED} <= card
    konbini = set(Payment.objects.filter(method=Method.KONBINI).values_list("status", flat=True))
    assert {Status.AWAITING_APPROVAL, Status.AWAITING_PAYMENT, Status.PAID, Status.EXPIRED} <= konbini
    assert set(Reservation.objects.values_list("status", flat=True)) == {
        ReservationStatus.CONFIRMED, ReservationStatus.PENDING_APPROVAL, ReservationStatus.WAITLISTED}
    call_command("seed_demo", sandbox_url=sandbox_server.url)  # idempotent
