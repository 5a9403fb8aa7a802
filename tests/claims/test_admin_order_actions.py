"""The order page's claim panel: delivery status, messages to the customer (a failed send shown and sent
again), the seller's cancel (message first; reasons limited; confirm page with the money effect) and a return
after shipping with both confirmations."""

import pytest
from django.core import mail
from django.urls import reverse

from claims.models import Claim, ClaimKind, ClaimState, CustomerMessage, MessageStatus, Reason, RefundState
from orders.models import Delivery, Order
from payments.models import Status
from tests.claims.test_admin_claims import card_order

pytestmark = pytest.mark.django_db


def order_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def claim_step(order, step):
    return reverse("admin:orders_order_claim_step", args=[order.pk, step])


def message(client, order, **fields):
    data = {"category": "cancel_refund", "title": "在庫切れのお知らせ", "body": "申し訳ございません。", **fields}
    return client.post(reverse("admin:orders_order_message", args=[order.pk]), data)


def test_ship_date_then_delayed(english_client, shop, operator, sandbox):
    english_client.force_login(operator)
    order = card_order(shop, sandbox, delivery=Delivery.NEW)
    html = english_client.get(order_url(order)).content.decode()
    assert 'id="set-ship-date"' in html and 'id="mark-delayed"' in html
    english_client.post(reverse("admin:orders_order_delivery", args=[order.pk, "ship_date"]),
                        {"ship_date": "2030-01-10"})
    order.refresh_from_db()
    assert order.delivery_status == Delivery.PREPARING and str(order.ship_date) == "2030-01-10"
    english_client.post(reverse("admin:orders_order_delivery", args=[order.pk, "delayed"]))
    order.refresh_from_db()
    assert order.delivery_status == Delivery.DELAYED


def test_a_failed_message_is_shown_and_sent_again(english_client, shop, operator, sandbox, settings):
    english_client.force_login(operator)
    order = card_order(shop, sandbox)
    settings.EMAIL_BACKEND = "tests.claims.failing_mail.Backend"
    response = message(english_client, order)
    assert response.status_code == 302
    failed = CustomerMessage.objects.get(order=order)
    assert failed.status == MessageStatus.FAILED and failed.last_error
    html = english_client.get(order_url(order)).content.decode()
    assert f'id="message-resend-{failed.pk}"' in html and "could not be sent" in html

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    english_client.post(reverse("admin:orders_order_message_resend", args=[order.pk, failed.pk]))
    failed.refresh_from_db()
    assert failed.status == MessageStatus.SENT and len(mail.outbox) == 1
    assert f'id="message-resend-{failed.pk}"' not in english_client.get(order_url(order)).content.decode()


def test_seller_cancel_needs_the_message_first_and_states_the_money(english_client, shop, operator, sandbox):
    english_client.force_login(operator)
    order = card_order(shop, sandbox)
    form = english_client.get(claim_step(order, "seller_cancel"))
    reasons = [value for value, _ in form.context["form"].fields["reason"].choices]
    assert reasons == [Reason.OUT_OF_STOCK, Reason.DELIVERY_DELAY, Reason.UNDELIVERABLE_REGION,
                       Reason.CUSTOMER_REQUEST]

    data = {"reason": Reason.OUT_OF_STOCK, "seller_memo": "在庫切れのため", "internal_memo": "仕入れ遅れ"}
    confirm = english_client.post(claim_step(order, "seller_cancel"), data)
    refused = english_client.post(claim_step(order, "seller_cancel"),
                                  {**data, "confirmed": "1", "once": confirm.context["once"]})
    assert refused.context["stage"] == "form" and "Message the customer first" in refused.context["error"]
    assert not Claim.objects.filter(order=order).exists()

    message(english_client, order)
    confirm = english_client.post(claim_step(order, "seller_cancel"), data)
    assert confirm.context["stage"] == "confirm" and "¥3,300" in confirm.context["effect"]
    done = english_client.post(claim_step(order, "seller_cancel"),
                               {**data, "confirmed": "1", "once": confirm.context["once"]})
    claim = Claim.objects.get(order=order)
    assert done["Location"] == reverse("admin:claims_claim_change", args=[claim.pk])
    assert (claim.kind, claim.state, claim.refund_state) == (ClaimKind.CANCEL, ClaimState.DONE, RefundState.DONE)
    assert claim.internal_memo == "仕入れ遅れ"
    order.payment.refresh_from_db()
    assert order.payment.status == Status.VOIDED


def test_return_after_shipping_with_both_confirmations(english_client, shop, operator, sandbox):
    english_client.force_login(operator)
    order = card_order(shop, sandbox, delivery=Delivery.SHIPPING)
    html = english_client.get(order_url(order)).content.decode()
    assert 'id="order-claim-open_return"' in html and 'id="order-claim-seller_cancel"' not in html
    message(english_client, order, title="返品のご案内")
    data = {"kind": "return", "reason": Reason.WRONG_ITEM, "seller_memo": "誤配送でした", "internal_memo": ""}
    confirm = english_client.post(claim_step(order, "open_return"), data)
    english_client.post(claim_step(order, "open_return"), {**data, "confirmed": "1", "once": confirm.context["once"]})
    claim = Claim.objects.get(order=order)
    assert claim.kind == ClaimKind.RETURN and claim.state in (ClaimState.REQUESTED, ClaimState.IN_PROGRESS)

    step = reverse("admin:claims_claim_step", args=[claim.pk, "confirm_return"])
    one = english_client.post(step, {"item_received": "on"})
    assert one.context["stage"] == "form" and "Confirm both" in one.content.decode()
    confirm = english_client.post(step, {"item_received": "on", "refund_approved": "on"})
    assert "¥3,300" in confirm.context["effect"]
    english_client.post(step, {"item_received": "True", "refund_approved": "True", "confirmed": "1",
                               "once": confirm.context["once"]})
    claim.refresh_from_db()
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.DONE
    assert claim.item_received_at and claim.refund_approved_at


def test_staff_cannot_cancel_and_another_shops_order_is_404(english_client, shop, other_shop, staff, sandbox):
    english_client.force_login(staff)
    order = card_order(shop, sandbox)
    assert english_client.get(claim_step(order, "seller_cancel")).status_code == 403
    foreign = Order.objects.create(shop=other_shop, number="F-1", customer_name="x", total=1)
    assert english_client.get(claim_step(foreign, "seller_cancel")).status_code == 404
    assert message(english_client, foreign).status_code == 404
