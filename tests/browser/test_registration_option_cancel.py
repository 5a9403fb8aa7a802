"""Seed 000's base + option case in a real browser: cancel one option line of a card registration, read the
money effect on the confirm page, see the line cancelled, and get a receipt for what remains paid."""

import io

import pytest
from pypdf import PdfReader

from payments.models import Payment, Status
from shops.roles import Role
from tests.browser.fixtures import login
from tests.factories import member
from tests.registrations.helpers import event, line, register

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancel_one_option_line_refunds_it_at_gmo(page, live_server, shop, sandbox, screenshot):
    shop.receipt_registration_number = "T1234567890123"
    shop.save()
    ev = event(shop)
    registration = register(ev, ["参加費", "懇親会", "お弁当"], sandbox=sandbox)
    party = line(registration, "懇親会")
    operator = member(shop, Role.OPERATOR)
    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}/admin/registrations/registration/{registration.pk}/change/")
    assert page.inner_text("#active-total") == "¥10,000"
    assert page.locator(f"#line-change-{line(registration, '参加費').pk}").count() == 0  # base: no line button
    screenshot("registration-before")

    page.click(f"#line-change-{party.pk}")
    page.wait_for_selector("#cancel-choose-form")
    assert page.is_checked("#linkage-linked")
    page.click("#cancel-next")
    page.wait_for_selector("#money-effect")
    effect = page.inner_text("#money-effect")
    assert "¥3,000" in effect and "GMO" in effect  # ¥3,000 refunded to the card via GMO (in Japanese)
    screenshot("registration-confirm-option-cancel")
    page.click("#cancel-confirm")
    page.wait_for_selector("#registration-panel")
    success = page.inner_text(".messagelist .success")
    assert "懇親会" in success and "¥3,000" in success
    assert "キャンセル" in page.inner_text(f"#line-{party.pk} .line-status")
    assert page.inner_text("#active-total") == "¥7,000"
    screenshot("registration-after-option-cancel")

    payment = Payment.objects.get(pk=registration.payment_id)
    assert (payment.status, payment.amount) == (Status.CAPTURED_IMMEDIATELY, 7000)
    assert [c["params"]["Amount"] for c in sandbox.calls("ChangeTran")] == ["7000"]

    href = page.get_attribute("#receipt-link", "href")
    response = page.request.get(f"{live_server.url}{href}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.body())).pages[0].extract_text()
    assert "¥7,000" in text and "懇親会" not in text and "参加費" in text
