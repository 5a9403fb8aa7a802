"""The customer's order page (SPEC 4.4 customer-reason cancel): signed link, cancel now or request, withdraw."""

from datetime import timedelta

import pytest
from django.utils import timezone

from claims import services
from claims.customer_links import order_path, token_for
from claims.models import Claim, ClaimState, RefundState
from orders.checkout_links import token_for as checkout_token_for
from orders.models import Delivery
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.models import Status
from tests.claims.helpers import bank_order, card_order, konbini_order

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")



def test_new_order_cancels_at_once_with_the_refund(english_client, shop, sandbox):
    order = card_order(shop, sandbox)
    page = english_client.get(order_path(order))
    assert page.status_code == 200
    html = page.content.decode()
    assert order.number in html and "New order" in html and 'id="cancel"' in html
    assert "cancelled at once and ¥5,000 is refunded" in html

    response = english_client.post(order_path(order, "cancel"), {"note": "間違えて注文しました"})
    assert response.status_code == 302 and response["Location"] == order_path(order)

    claim = Claim.objects.get(order=order)
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.DONE
    order.payment.refresh_from_db()
    assert order.payment.status == Status.VOIDED
    html = english_client.get(order_path(order)).content.decode()
    assert f'data-state="{ClaimState.DONE}"' in html and 'id="cancel"' not in html
    # A second click (or a replayed form) sends nothing more.
    assert english_client.post(order_path(order, "cancel")).status_code == 302
    assert Claim.objects.filter(order=order).count() == 1


def test_preparing_order_sends_a_request_then_withdraws_when_asked(english_client, shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    html = english_client.get(order_path(order)).content.decode()
    assert "sends a cancel request to the shop" in html and "Send a cancel request" in html

    assert english_client.post(order_path(order, "cancel")).status_code == 302
    claim = Claim.objects.get(order=order)
    assert claim.state == ClaimState.REQUESTED
    order.payment.refresh_from_db()
    assert order.payment.status == Status.AUTHORIZED  # nothing refunded before the shop answers
    html = english_client.get(order_path(order)).content.decode()
    assert "Your request was sent to the shop" in html and 'id="cancel"' not in html and 'id="withdraw"' not in html

    deadline = timezone.now() + timedelta(days=2)
    services.ask_withdrawal(claim, deadline=deadline, seller_memo="本日発送予定のため、撤回をお願いできますか。",
                            by=SYSTEM)
    Claim.objects.filter(pk=claim.pk).update(internal_memo="INTERNAL-ONLY: 倉庫に確認済み")
    html = english_client.get(order_path(order)).content.decode()
    assert "本日発送予定のため" in html and "INTERNAL-ONLY" not in html
    assert 'id="withdraw"' in html
    assert timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") in html

    assert english_client.post(order_path(order, "withdraw")).status_code == 302
    claim.refresh_from_db()
    assert claim.state == ClaimState.WITHDRAWN
    html = english_client.get(order_path(order)).content.decode()
    assert 'id="withdraw"' not in html


def test_shipped_order_offers_no_cancel_and_a_post_changes_nothing(english_client, shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.SHIPPING)
    html = english_client.get(order_path(order)).content.decode()
    assert "Shipping" in html and 'id="cancel"' not in html
    assert english_client.post(order_path(order, "cancel")).status_code == 302
    assert english_client.post(order_path(order, "withdraw")).status_code == 302
    assert not Claim.objects.filter(order=order).exists()


def test_a_refusal_is_shown_and_changes_nothing(english_client, shop, sandbox, monkeypatch):
    order = card_order(shop, sandbox)

    def refuse(*args, **kwargs):
        raise InvalidTransition("This order changed meanwhile; reload the page.")

    monkeypatch.setattr(services, "customer_cancel", refuse)
    response = english_client.post(order_path(order, "cancel"))
    assert response.status_code == 409
    assert "This order changed meanwhile" in response.content.decode()
    assert not Claim.objects.filter(order=order).exists()


def test_tampered_or_foreign_tokens_are_404(client, shop, sandbox):
    order = card_order(shop, sandbox)
    token = token_for(order)
    assert client.get(f"/claims/order/{token}/").status_code == 200
    assert client.get(f"/claims/order/{token[:-1]}x/").status_code == 404
    assert client.get(f"/claims/order/{order.pk}/").status_code == 404
    # A valid signature from another kind of link (the checkout's) opens nothing here.
    assert client.get(f"/claims/order/{checkout_token_for(order.payment)}/").status_code == 404
    assert client.post(f"/claims/order/{token[:-1]}x/cancel/").status_code == 404
    assert not Claim.objects.exists()


def test_konbini_order_says_the_fee_is_kept_back_and_opens_a_manual_refund(english_client, konbini_shop, sandbox):
    order = konbini_order(konbini_shop, sandbox, state=Delivery.NEW)
    html = english_client.get(order_path(order)).content.decode()
    assert "the shop refunds ¥5,000 to you" in html and "transfer fee of ¥330 is not refunded" in html
    assert english_client.post(order_path(order, "cancel")).status_code == 302
    claim = Claim.objects.get(order=order)
    assert claim.state == ClaimState.DONE and claim.refund_linked is False and claim.refund_task is not None
    assert claim.refund_amount == 5000 and claim.fee_refund_amount == 0
    html = english_client.get(order_path(order)).content.decode()
    assert f'data-refund="{claim.refund_state}"' in html and "¥5,000" in html


def test_unpaid_bank_order_cancels_with_nothing_to_refund(english_client, shop):
    order = bank_order(shop, state=Delivery.AWAITING_PAYMENT)
    html = english_client.get(order_path(order)).content.decode()
    assert "Awaiting payment" in html and "Nothing has been paid yet" in html
    assert english_client.post(order_path(order, "cancel")).status_code == 302
    claim = Claim.objects.get(order=order)
    assert claim.state == ClaimState.DONE and claim.refund_amount == 0 and claim.refund_task is None
