import pytest

from payments import services
from payments.actors import Actor
from payments.models import Status
from tests.factories import wallet_order

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def test_approve_capture_cancel(shop, sandbox):
    order = wallet_order(shop, sandbox)
    payment = order.payment
    assert payment.status == Status.AUTHORIZED
    services.capture_payment(payment, by=SYSTEM)
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED
    assert payment.get_status_display() == "決済完了"
