"""Seed 001's decision after 決済エラー, in a real browser: the operator finds the confirmed reservation whose
konbini payment expired under "needs attention", sends a one-off payment request (単発決済), the customer asks
for new numbers on the mailed link and pays at the sandbox; the payment moves only through Stripe's webhook."""

import re

import pytest
from django.core import mail

from payments.models import Payment, Status, StripeEvent
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from shops.roles import Role
from tests.browser.fixtures import login
from tests.factories import UserFactory, member
from tests.konbini import conftest as konbini_fixtures
from tests.konbini.flow_helpers import CUSTOMER_EMAIL, OPS_EMAIL, fresh, mails_of, wait_for
from tests.reservations.helpers import SYSTEM, make_slot

pytestmark = pytest.mark.django_db(transaction=True)
konbini_shop = konbini_fixtures.konbini_shop  # the shop with its Stripe account at the sandbox
webhooks_to_us = konbini_fixtures.webhooks_to_us  # the sandbox's signed events reach the live server
eager_tasks = konbini_fixtures.eager_tasks

CUSTOMER = "山田 花子"
LINK_RE = re.compile(r"https?://\S+/reserve/pay/\S+")


def attention_rows(page, live_server):
    """The needs-attention list's rows of our customer (the list itself is waited for, so 0 means 0)."""
    page.goto(f"{live_server.url}/admin/reservations/reservation/?attention=konbini")
    page.wait_for_selector("#changelist")
    return page.locator("#result_list tbody tr", has_text=CUSTOMER)


def webhooks_settled(sandbox) -> bool:
    """Every event Stripe has sent so far was processed by us: no late one races the next step."""
    sent = {e["id"] for e in sandbox.stripe_events()}
    return sent <= set(StripeEvent.objects.filter(processed_at__isnull=False).values_list("event_id", flat=True))


def cell(row, field: str) -> str:
    return row.locator(f".field-{field}").inner_text().strip()


def test_expired_konbini_payment_settled_by_a_one_off_request(page, live_server, konbini_shop, sandbox,
                                                              webhooks_to_us, settings, screenshot):
    settings.PUBLIC_BASE_URL = live_server.url  # the mailed link leads to the live server
    operator = member(konbini_shop, Role.OPERATOR, UserFactory(email=OPS_EMAIL))  # also gets the staff mails
    slot = make_slot(konbini_shop, mode=AcceptanceMode.FIRST_COME, price=3500, capacity=4)
    reservation = payment_flow.book(slot, name=CUSTOMER, email=CUSTOMER_EMAIL, seats=2, by=SYSTEM,
                                    payment_method="konbini")
    old = reservation.payment
    assert (reservation.status, old.status, old.amount) == (R.CONFIRMED, Status.AWAITING_PAYMENT, 7000)
    sandbox.stripe_expire(old.external_id)
    assert wait_for(lambda: fresh(old).status == Status.EXPIRED), fresh(old).status
    assert wait_for(lambda: webhooks_settled(sandbox))
    assert wait_for(lambda: len(mails_of("konbini_expired", old)) == 1)

    # The operator: the list of reservations needing a decision shows it, 確定 next to 決済エラー.
    login(page, live_server, operator.username)
    rows = attention_rows(page, live_server)
    assert rows.count() == 1
    row = rows.first
    assert (cell(row, "status"), cell(row, "payment_status"), cell(row, "payment_amount")) == (
        "確定", "決済エラー", "¥7,000")
    assert cell(row, "attention")  # the reason it is listed
    screenshot("konbini-decision-attention-list")

    row.get_by_role("link", name=CUSTOMER).click()
    page.wait_for_selector("#reservation-payment-panel")
    assert page.inner_text("#reservation-status") == "確定"
    assert page.inner_text("#payment-status") == "決済エラー"
    assert page.locator("#needs-attention").count() == 1
    screenshot("konbini-decision-reservation-expired")

    page.click("#operation-request_payment")
    page.wait_for_selector("#money-effect")
    effect = page.inner_text("#money-effect")
    # A new payment of the same amount, its link mailed to the customer; the expired one stays as a record.
    assert "¥7,000" in effect and CUSTOMER_EMAIL in effect and "メール" in effect and old.gateway_order_id in effect
    assert "確定" in page.inner_text("#reservation-effect")  # the reservation stays confirmed
    screenshot("konbini-decision-confirm-request")
    page.click("#operation-confirm")
    page.wait_for_selector(".messagelist .success")
    done = page.inner_text(".messagelist .success")
    assert "¥7,000" in done and CUSTOMER_EMAIL in done and "メール" in done
    new = Reservation.objects.select_related("payment").get(pk=reservation.pk).payment
    assert new.pk != old.pk and (new.status, new.amount) == (Status.UNPROCESSED, 7000)
    assert fresh(old).replaced_by_id == new.pk and fresh(old).status == Status.EXPIRED
    assert page.inner_text("#payment-status") == new.get_status_display()  # request sent, no numbers yet
    assert old.gateway_order_id in page.inner_text("#replaced-payments")
    screenshot("konbini-decision-request-sent")

    # The customer: the link from the payment request mail, then new numbers.
    assert wait_for(lambda: len(mails_of("payment_request", new)) == 1)
    request_mail = mails_of("payment_request", new)[0]
    assert request_mail.to == [CUSTOMER_EMAIL]
    links = LINK_RE.findall(request_mail.body)
    assert len(links) == 1 and links[0].startswith(live_server.url), request_mail.body
    page.context.clear_cookies()  # the customer is not logged in to the admin
    page.goto(links[0])
    page.wait_for_selector("#issue-numbers")
    assert page.inner_text("#amount") == "¥7,000"
    assert page.inner_text("#reservation-status") == "確定"
    screenshot("konbini-decision-customer-request")
    page.click("#issue-numbers")
    page.wait_for_selector("#konbini-numbers")
    new = fresh(new)
    assert new.status == Status.AWAITING_PAYMENT and new.external_id != old.external_id
    details = sandbox.stripe_intent(new.external_id)["next_action"]["konbini_display_details"]
    codes = page.locator("#stores .payment-code").all_inner_texts()
    assert codes and sorted(codes) == sorted(s["payment_code"] for s in details["stores"].values() if s)
    assert page.get_attribute("#voucher-link", "href") == details["hosted_voucher_url"]
    screenshot("konbini-decision-customer-numbers")

    # Paid at the store: only the webhook moves our payment.
    sandbox.stripe_pay(new.external_id)
    assert wait_for(lambda: fresh(new).status == Status.PAID), fresh(new).status
    assert wait_for(lambda: webhooks_settled(sandbox))
    page.reload()
    page.wait_for_selector("#paid")
    assert "お支払いが完了しました" in page.inner_text("#paid")
    assert page.locator("#issue-numbers").count() == 0
    screenshot("konbini-decision-customer-paid")

    login(page, live_server, operator.username)
    assert attention_rows(page, live_server).count() == 0
    screenshot("konbini-decision-attention-list-empty")
    page.goto(f"{live_server.url}/admin/reservations/reservation/")
    row = page.locator("#result_list tbody tr", has_text=CUSTOMER)
    assert (cell(row, "status"), cell(row, "payment_status")) == ("確定", "決済完了")
    assert cell(row, "attention") == "-"  # the admin's empty value: nothing to decide
    page.goto(f"{live_server.url}/admin/reservations/reservation/{reservation.pk}/change/")
    page.wait_for_selector("#reservation-payment-panel")
    assert page.inner_text("#payment-status") == "決済完了"
    assert page.inner_text("#reservation-status") == "確定"
    assert page.locator("#needs-attention").count() == 0
    assert page.is_disabled("#operation-request_payment")  # offered only after 決済エラー; the reason is shown
    assert page.locator("#refused-request_payment").count() == 1
    screenshot("konbini-decision-reservation-paid")

    assert wait_for(lambda: len(mails_of("konbini_paid", new)) == 1)
    paid_mail = mails_of("konbini_paid", new)[0]
    assert paid_mail.to == [OPS_EMAIL]
    assert mails_of("konbini_paid", old) == []  # nothing was received on the expired payment
    assert fresh(reservation).status == R.CONFIRMED
    assert Payment.objects.get(pk=old.pk).status == Status.EXPIRED
    assert sum(m.to == [OPS_EMAIL] for m in mail.outbox) == 2  # expired (old) and received (new), once each
