from payments.models import StripeEvent, PaymentOperation
from tests.konbini.test_state_table import book, PRICE
from tests.reservations.helpers import make_slot
from tests.konbini.flow_helpers import wait_for, fresh
import pytest, time
pytestmark = pytest.mark.usefixtures("webhooks_to_us")
def test_dbg(konbini_shop, sandbox):
    slot = make_slot(konbini_shop, price=PRICE)
    t0=time.time()
    r = book(slot)
    print("book took", time.time()-t0)
    assert wait_for(lambda: StripeEvent.objects.filter(processed_at__isnull=False).count()==2)
    print("processed after", time.time()-t0)
    for e in StripeEvent.objects.order_by("id"):
        print(e.type, e.received_at.timestamp()-t0, e.processed_at.timestamp()-t0, e.result)
    for a in sandbox.stripe_deliveries():
        print(a["event_id"], a["type"], a["signed_at"]-t0, a["at"])
