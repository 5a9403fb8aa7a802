"""The operator console as a person uses it, in a real browser."""

import pytest
from django.utils import timezone

from payments.models import Payment, Status
from tests.browser.fixtures import login
from tests.factories import card_payment

pytestmark = pytest.mark.django_db(transaction=True)


def open_payment(page, live_server, payment):
    page.goto(f"{live_server.url}/admin/payments/payment/{payment.pk}/change/")


def test_staff_captures_one_payment(page, live_server, shop, sandbox, staff, screenshot):
    payment = card_payment(shop, sandbox, amount=5500)
    login(page, live_server, staff.username)
    page.goto(f"{live_server.url}/admin/payments/payment/")
    screenshot("payment-list")
    open_payment(page, live_server, payment)
    page.click("#change-status")
    screenshot("change-status")
    page.click(".offered-operations .operation-capture")
    page.wait_for_selector("#money-effect")
    assert "¥5,500" in page.inner_text("#money-effect")
    screenshot("confirm-capture")
    page.click("#operation-confirm")
    page.wait_for_selector(".messagelist .success")
    assert "完了しました" in page.inner_text(".messagelist")
    screenshot("capture-done")
    assert Payment.objects.get(pk=payment.pk).status == Status.CAPTURED
    assert len(sandbox.calls("AlterTran")) == 1


def test_cancel_of_an_older_sale_explains_return(page, live_server, shop, sandbox, operator, screenshot):
    payment = card_payment(shop, sandbox, amount=3000)
    from payments import services
    from payments.actors import Actor

    services.capture_payment(payment, by=Actor.system("test"))
    # Captured 40 days ago: an earlier month in Tokyo whatever today is → 月跨返品 (RETURNX).
    past = timezone.now() - timezone.timedelta(days=40)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=past, captured_at=past)
    login(page, live_server, operator.username)
    open_payment(page, live_server, payment)
    page.click("#change-status")
    page.click(".offered-operations .operation-cancel")
    effect = page.inner_text("#money-effect")
    assert "月跨返品 (RETURNX)" in effect and "¥3,000" in effect and "返金" in effect
    screenshot("confirm-cancel-returnx")
    page.click("#operation-confirm")
    page.wait_for_selector(".messagelist .success")
    assert Payment.objects.get(pk=payment.pk).status == Status.RETURNED_ACROSS_MONTH
    assert sandbox.calls("AlterTran")[-1]["params"]["JobCd"] == "RETURNX"


def test_staff_is_not_offered_what_they_may_not_do(page, live_server, shop, sandbox, staff, screenshot):
    payment = card_payment(shop, sandbox)
    login(page, live_server, staff.username)
    open_payment(page, live_server, payment)
    page.click("#change-status")
    offered = page.inner_text(".offered-operations")
    assert "実売上処理" in offered
    assert "キャンセル" not in offered and "金額変更" not in offered
    screenshot("staff-change-status")
    # Typing the URL does not help either.
    response = page.goto(f"{live_server.url}/admin/payments/payment/{payment.pk}/operate/cancel/")
    assert response.status == 403


def test_dashboard_links_to_the_filtered_list(page, live_server, shop, sandbox, operator, screenshot):
    card_payment(shop, sandbox, reference="DASH-1")
    expiring = card_payment(shop, sandbox, reference="DASH-EXPIRING")
    soon = timezone.now() + timezone.timedelta(days=3)
    Payment.objects.filter(pk=expiring.pk).update(authorization_expires_at=soon)
    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}/admin/")
    page.wait_for_selector("#dashboard")
    assert page.get_attribute("#dashboard-status-authorized", "data-count") == "2"
    screenshot("dashboard")
    page.click("#dashboard-attention-expiring")
    page.wait_for_selector("#result_list")
    rows = page.inner_text("#result_list")
    assert "DASH-EXPIRING" in rows and "DASH-1" not in rows
    screenshot("payment-list-expiring")


@pytest.mark.redis
def test_staff_bulk_captures_fifty_and_watches_progress(page, live_server, celery_worker, shop, sandbox, staff,
                                                        screenshot):
    payments = [card_payment(shop, sandbox, amount=1000, reference=f"BULK-{i:02d}") for i in range(50)]
    login(page, live_server, staff.username)
    page.goto(f"{live_server.url}/admin/payments/payment/")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "bulk_capture")
    page.click("button[name=index]")
    page.wait_for_selector("#bulk-confirm-submit")
    assert page.inner_text("#bulk-included") == "50"
    assert page.inner_text("#bulk-total-amount") == "¥50,000"
    screenshot("bulk-50-confirm")
    page.click("#bulk-confirm-submit")
    page.wait_for_selector("#bulk-status")
    screenshot("bulk-50-progress")
    page.wait_for_selector("#bulk-finished-at", timeout=90_000)  # the real worker finished; page reloaded
    assert page.inner_text("#bulk-done") == "50" and page.inner_text("#bulk-remaining") == "0"
    screenshot("bulk-50-done")
    assert Payment.objects.filter(pk__in=[p.pk for p in payments], status=Status.CAPTURED).count() == 50
    assert len(sandbox.calls("AlterTran")) == 50
