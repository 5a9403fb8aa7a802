"""Receipts for orders: the lines, shipping and fees by tax rate, points as a means of payment; only for a paid,
not cancelled order whose payment holds what the order says; the order page offers the button when paid."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from orders.models import Fulfilment
from orders.services import LineInput, place_card_order
from payments.actors import Actor
from payments.models import Payment, Status
from receipts.models import ReceiptIssue
from receipts.services import ReceiptRefused, issue_receipt
from shops.models import CaptureMode
from shops.roles import Role
from tests.factories import member
from tests.receipts import builders
from tests.receipts.pdf_checks import ARTIFACTS, page_image, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoicing_shop(shop):
    return builders.invoicing(shop, issuer="デモ雑貨店 株式会社")


def url_for(order):
    return reverse("admin:receipts_order_receipt", args=[order.pk])


def test_order_receipt_by_rate_with_shipping_fees_and_points(invoicing_shop, operator):
    order = builders.order(invoicing_shop, shipping_fee=600, fees=330, points_used=500)
    issue, pdf = issue_receipt(order, by=Actor.for_user(operator))
    text = text_of(pdf)
    # 4,400 + 3,240 goods, 600 shipping + 330 fees at 10%: 5,330 at 10%, 3,240 at 8%; 8,570 less 500 points.
    for expected in (order.number, "山田 花子 様", "有田焼 マグカップ × 2", "¥4,400", "抹茶 100g × 1※", "送料",
                     "手数料", "合計", "¥8,570", "ポイント利用", "−¥500", "金額 ¥8,070（税込）",
                     "10%対象 ¥5,330（うち消費税 ¥484）", "8%対象 ¥3,240（うち消費税 ¥240）",
                     "デモ雑貨店 株式会社", "登録番号 T1234567890123", "お品代として"):
        assert expected in text, expected
    assert (issue.amount, issue.order, issue.registration, issue.reissue) == (8070, order, None, False)
    page_image(pdf, ARTIFACTS / "order.png")


def test_a_card_order_placed_and_captured_through_the_sandbox(invoicing_shop, operator, sandbox, client):
    invoicing_shop.capture_mode = CaptureMode.CAPTURE
    invoicing_shop.save()
    order = place_card_order(invoicing_shop, lines=[LineInput("波佐見焼 皿", 1, 2750), LineInput("緑茶", 2, 540, 8)],
                             total=4430, shipping_fee=600, customer_name="田中 一郎",
                             token=sandbox.create_token("4111111111111111"), by=Actor.system("test"))
    assert order.payment.status == Status.CAPTURED_IMMEDIATELY
    client.force_login(operator)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert url_for(order) in page and 'id="order-receipt"' in page
    response = client.get(url_for(order))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="receipt-{order.number}.pdf"'
    text = text_of(response.content)
    assert "緑茶 × 2※" in text and "10%対象 ¥3,350（うち消費税 ¥304）" in text and "金額 ¥4,430（税込）" in text


def test_no_button_and_no_receipt_before_capture(invoicing_shop, operator, english_client):
    order = builders.order(invoicing_shop, status=Status.AUTHORIZED, fulfilment=Fulfilment.NEW)
    english_client.force_login(operator)
    page = english_client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert 'id="order-receipt"' not in page
    response = english_client.get(url_for(order))
    assert response.status_code == 302 and response["Location"] == reverse("admin:orders_order_change",
                                                                           args=[order.pk])
    [message] = get_messages(response.wsgi_request)
    assert str(message).startswith("Not paid yet (Authorized)")
    assert not ReceiptIssue.objects.exists()


@pytest.mark.parametrize("changes, message", [
    ({"fulfilment": Fulfilment.CANCELLED}, "order is cancelled"),
    ({"fulfilment": Fulfilment.CANCELLED, "status": Status.VOIDED}, "order is cancelled"),
    ({"fulfilment": Fulfilment.NOT_PLACED, "status": Status.FAILED}, "not placed"),
    ({"status": Status.RETURNED}, "payment is cancelled"),
])
def test_cancelled_or_unplaced_orders_are_refused(invoicing_shop, operator, english, changes, message):
    order = builders.order(invoicing_shop, **changes)
    with pytest.raises(ReceiptRefused, match=message):
        issue_receipt(order, by=Actor.for_user(operator))
    assert not ReceiptIssue.objects.exists()


def test_an_amount_the_payment_does_not_hold_is_refused(invoicing_shop, operator, english):
    order = builders.order(invoicing_shop)
    # Partly refunded on the payment alone: the order's lines no longer say what was received.
    Payment.objects.filter(pk=order.payment_id).update(amount=5000, captured_amount=5000, refunded_amount=3240)
    with pytest.raises(ReceiptRefused, match="payment holds ¥5,000 but its orders come to ¥8,240"):
        issue_receipt(order, by=Actor.for_user(operator))
    Payment.objects.filter(pk=order.payment_id).update(amount=8240, captured_amount=8240, pending_amount=7000)
    with pytest.raises(ReceiptRefused, match="not yet sent to the payment gateway"):
        issue_receipt(order, by=Actor.for_user(operator))
    assert not ReceiptIssue.objects.exists()


def test_lines_that_do_not_add_up_are_refused(invoicing_shop, operator, english):
    order = builders.order(invoicing_shop)
    order.lines.filter(product_name="抹茶 100g").delete()
    with pytest.raises(ReceiptRefused, match="do not add up to its total"):
        issue_receipt(order, by=Actor.for_user(operator))


def test_reissue_of_an_order_receipt(invoicing_shop, operator, client):
    order = builders.order(invoicing_shop)
    client.force_login(operator)
    assert "再発行" not in text_of(client.get(url_for(order)).content)
    assert "再発行" in text_of(client.get(url_for(order)).content)
    assert list(ReceiptIssue.objects.filter(order=order).values_list("sequence", "reissue")) == [(2, True),
                                                                                                 (1, False)]


def test_another_shops_order_is_a_404(invoicing_shop, other_shop, client):
    order = builders.order(invoicing_shop)
    client.force_login(member(other_shop, Role.ADMIN))
    assert client.get(url_for(order)).status_code == 404
    assert not ReceiptIssue.objects.exists()
