"""The customer books a paid event in a real browser (first-come, konbini) and sees the numbers on the
completion page: the same numbers the Stripe sandbox issued, and the same ones mailed."""

import pytest
from django.core import mail

from payments.models import Status
from reservations.customer_links import event_path
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from tests.konbini import conftest as konbini_fixtures
from tests.reservations.helpers import make_slot

pytestmark = pytest.mark.django_db(transaction=True)
konbini_shop = konbini_fixtures.konbini_shop  # the shop with its Stripe account at the sandbox


def test_first_come_konbini_booking_shows_the_numbers(page, live_server, konbini_shop, sandbox, screenshot):
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3500, capacity=4)
    page.goto(f"{live_server.url}{event_path(slot.event)}")
    assert "¥3,500" in page.inner_text("#event-price")
    assert "残り4席" in page.inner_text("#slots")
    page.check(f"#slot-{slot.pk}")
    page.fill("#id_name", "山田 花子")
    page.fill("#id_email", "hanako@example.com")
    page.fill("#id_seats", "2")
    assert page.is_checked("#method-konbini")
    screenshot("konbini-booking-form")

    page.click("#book")
    page.wait_for_selector("#konbini-numbers")

    reservation = Reservation.objects.select_related("payment").get()
    payment = reservation.payment
    assert reservation.status == R.CONFIRMED and payment.status == Status.AWAITING_PAYMENT
    assert page.inner_text("#reservation-status") == "確定"
    assert page.inner_text("#amount") == "¥7,000"
    details = sandbox.stripe_intent(payment.external_id)["next_action"]["konbini_display_details"]
    codes = page.locator("#stores .payment-code").all_inner_texts()
    assert sorted(codes) == sorted(s["payment_code"] for s in details["stores"].values() if s)
    assert page.get_attribute("#voucher-link", "href") == details["hosted_voucher_url"]
    assert "メールでもお送りしました" in page.inner_text("#numbers-mailed")
    screenshot("konbini-booking-done")

    page.reload()  # POST/redirect/GET: a reload shows the page again and books nothing
    page.wait_for_selector("#konbini-numbers")
    assert Reservation.objects.count() == 1 and len(sandbox.calls("payment_intents.create")) == 1
    assert [m.to for m in mail.outbox] == [["hanako@example.com"]]
