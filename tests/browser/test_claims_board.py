"""Claims in a real browser: the board's counts, then on a shipped card order: message the customer, open a
return, "return received / full refund" with both confirmations → the claim is done and refunded at GMO."""

import pytest

from claims.models import Claim, ClaimKind, ClaimState, CustomerMessage, MessageStatus, Party, Reason, RefundState
from orders.models import Delivery, Order
from orders.services import LineInput, place_card_order
from payments import services as payment_services
from payments.actors import Actor
from payments.models import Status
from shops.roles import Role
from tests.browser.fixtures import login
from tests.factories import member

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("test")


def shipped_card_order(shop, sandbox) -> Order:
    order = place_card_order(shop, lines=[LineInput("抹茶ラテ", 2, 2200)], total=4400, customer_name="山田 太郎",
                             customer_email="taro@example.jp", token=sandbox.create_token("4111111111111111"),
                             by=SYSTEM, number="SHIP-1")
    payment_services.capture_payment(order.payment, by=SYSTEM)
    Order.objects.filter(pk=order.pk).update(delivery_status=Delivery.SHIPPING)
    order.refresh_from_db()
    return order


def test_board_counts_and_a_full_return_flow(page, live_server, shop, sandbox, screenshot):
    operator = member(shop, Role.OPERATOR)
    for number in ("REQ-1", "REQ-2"):  # two cancel requests waiting (配送準備)
        waiting = Order.objects.create(shop=shop, number=number, customer_name="客", total=1000,
                                       delivery_status=Delivery.PREPARING)
        Claim.objects.create(shop=shop, order=waiting, kind=ClaimKind.CANCEL, requested_by=Party.CUSTOMER,
                             reason=Reason.CUSTOMER_REQUEST)
    order = shipped_card_order(shop, sandbox)
    assert order.payment.status == Status.CAPTURED

    login(page, live_server, operator.username)
    page.goto(f"{live_server.url}/admin/claims/claim/board/")
    counts = page.locator("#claim-board .board-count")
    assert counts.count() >= 12
    values = [int(counts.nth(i).get_attribute("data-count")) for i in range(counts.count())]
    assert 2 in values and sum(values) >= 2
    screenshot("claims-board")
    first_nonzero = page.locator("#claim-board tr.board-nonzero .board-count").first
    expected = int(first_nonzero.get_attribute("data-count"))
    first_nonzero.click()
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == expected  # the link lists exactly what it counts

    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.fill("#message-form #id_title", "返品のご案内")
    page.fill("#message-form #id_body", "誤配送のため返品をお願いいたします。")
    page.click("#send-message")
    page.wait_for_selector(".customer-message")
    assert CustomerMessage.objects.get(order=order).status == MessageStatus.SENT
    screenshot("claims-order-messaged")

    page.click("#order-claim-open_return")
    page.select_option("#id_kind", "return")
    page.select_option("#id_reason", Reason.WRONG_ITEM)
    page.fill("#id_seller_memo", "誤配送のため返品を受け付けます")
    page.click("#step-next")
    page.wait_for_selector("#money-effect")
    page.click("#step-confirm")
    page.wait_for_selector("#claim-step-confirm_return")
    claim = Claim.objects.get(order=order)
    assert claim.kind == ClaimKind.RETURN

    page.click("#claim-step-confirm_return")
    page.check("#id_item_received")
    page.click("#step-next")
    page.wait_for_selector("#claim-step-form")
    assert page.locator("#money-effect").count() == 0  # one confirmation is not enough
    page.check("#id_item_received")
    page.check("#id_refund_approved")
    page.click("#step-next")
    page.wait_for_selector("#money-effect")
    assert "4,400" in page.inner_text("#money-effect")
    screenshot("claims-return-confirm")
    page.click("#step-confirm")
    page.wait_for_selector("#claim-state")
    assert page.get_attribute("#claim-refund", "data-state") == RefundState.DONE
    screenshot("claims-return-done")

    claim.refresh_from_db()
    assert (claim.state, claim.refund_state, claim.refund_amount, claim.refund_linked) == (
        ClaimState.DONE, RefundState.DONE, 4400, True)
    order.payment.refresh_from_db()
    assert order.payment.status != Status.CAPTURED
    assert [c["params"]["JobCd"] for c in sandbox.calls("AlterTran")][-1] in ("RETURN", "RETURNX", "VOID")
