"""The Recruit easy pay order page in a real browser: edit the amount, capture blocked, send the change, capture."""

import pytest

from payments.models import Payment, Status
from shops.roles import Role
from tests.browser.fixtures import login
from tests.factories import member, wallet_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_edit_amount_then_capture_only_after_sending(page, live_server, shop, sandbox, screenshot):
    order = wallet_order(shop, sandbox, amount=6000)
    operator = member(shop, Role.OPERATOR)
    line = order.lines.get()
    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    assert page.inner_text("#payment-status") == "仮売上"
    assert page.is_enabled("#operation-capture")
    assert page.is_disabled("#operation-change_amount")  # nothing unsent
    screenshot("wallet-order")

    page.click("#edit-order")
    page.fill(f"#unit_price-{line.pk}", "5200")
    page.click("#save-order")
    page.wait_for_selector("#unsent-change")
    assert "5,200" in page.inner_text("#unsent-change")
    assert page.is_disabled("#operation-capture")
    blocked = page.inner_text("#refused-capture")
    assert "PG" in blocked  # the rule: send the change to the PG first
    screenshot("wallet-order-capture-blocked")

    page.click("#operation-change_amount")
    page.wait_for_selector("#money-effect")
    assert "¥6,000" in page.inner_text("#money-effect") and "¥5,200" in page.inner_text("#money-effect")
    screenshot("wallet-order-confirm-send")
    page.click("#operation-confirm")
    page.wait_for_selector("#payment-panel")
    assert page.locator("#unsent-change").count() == 0
    assert "5,200" in page.inner_text("#payment-amount")
    assert page.is_enabled("#operation-capture")

    page.click("#operation-capture")
    page.wait_for_selector("#money-effect")
    assert "¥5,200" in page.inner_text("#money-effect")
    page.click("#operation-confirm")
    page.wait_for_selector("#payment-panel")
    assert page.inner_text("#payment-status") == "決済完了"
    screenshot("wallet-order-captured")

    payment = Payment.objects.get(pk=order.payment_id)
    assert (payment.status, payment.amount, payment.pending_amount) == (Status.CAPTURED, 5200, None)
    assert [c["params"]["Amount"] for c in sandbox.calls("RecruitSales")] == ["5200"]
