"""A payment that belongs to a registration is operated from the registration, through the API too: a cancel
or amount change straight on the payment would leave the lines registered while the money is gone."""

from __future__ import annotations

import pytest

from payments.models import Payment, Status
from registrations.models import LineStatus
from tests.registrations.helpers import event, register

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("action, body", [("cancel", {}), ("change-amount", {"amount": 1000, "job": "CAPTURE"}),
                                          ("reauthorize", {"job": "AUTH"})])
def test_registration_payment_is_not_operated_through_the_payments_api(api, shop, sandbox, action, body):
    registration = register(event(shop), ["参加費", "懇親会"], sandbox=sandbox)
    sandbox.clear_calls()
    response = api.post(f"/api/v1/payments/{registration.payment_id}/{action}/", body, format="json",
                        HTTP_IDEMPOTENCY_KEY=f"owned-{action}")
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_transition" and "参加申込" in error["message"]  # the admin's default language
    payment = Payment.objects.get(pk=registration.payment_id)
    assert (payment.status, payment.amount) == (Status.CAPTURED_IMMEDIATELY, 8000)
    assert sandbox.calls("AlterTran") == [] and sandbox.calls("ChangeTran") == []
    assert set(registration.lines.values_list("status", flat=True)) == {LineStatus.ACTIVE}


def test_a_plain_order_payment_is_still_cancelled_through_the_api(api, shop, sandbox):
    from tests.factories import card_payment

    payment = card_payment(shop, sandbox)
    response = api.post(f"/api/v1/payments/{payment.pk}/cancel/", {}, format="json", HTTP_IDEMPOTENCY_KEY="plain")
    assert response.status_code == 200, response.content
    assert Payment.objects.get(pk=payment.pk).status == Status.VOIDED
