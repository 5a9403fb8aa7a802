"""The ledger keeps Stripe's answers for the record, but never a PaymentIntent's client secret."""

from payments.models import PaymentOperation
from payments.services import sync_payment
from reservations import payment_flow
from reservations.models import AcceptanceMode
from tests.reservations.helpers import SYSTEM, make_slot


def test_client_secret_is_never_kept_in_the_ledger(konbini_shop, sandbox, django_capture_on_commit_callbacks):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3000)
    with django_capture_on_commit_callbacks(execute=True):
        reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", by=SYSTEM,
                                        payment_method="konbini")
    payment = reservation.payment
    assert sandbox.stripe_intent(payment.external_id)["client_secret"]  # Stripe did send one
    sync_payment(payment, actor=SYSTEM)  # the status check keeps the retrieved intent too

    responses = list(PaymentOperation.objects.filter(payment=payment).values_list("response", flat=True))
    assert len(responses) == 2 and all(r.get("id") == payment.external_id for r in responses)
    assert not any("client_secret" in r for r in responses)
