"""The buyer's side of Recruit easy pay: checkout page, redirect to the wallet, return, pay again, card
through GMO's tokenizer page, and the PG's result notification. Everything over HTTP against the sandbox."""

from __future__ import annotations

import html
import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.core import signing
from django.test import Client
from django.urls import reverse

from orders.checkout_links import card_return_url, checkout_path, token_for, wallet_return_url
from orders.models import Fulfilment
from orders.services import LineInput, place_wallet_order
from payments.actors import Actor
from payments.models import Method, Payment, PaymentOperation, Status
from tests.factories import VISA_DECLINED, VISA_OK, wallet_order

pytestmark = pytest.mark.django_db
NOTIFY_PATH = "/gateways/gmo/notify/"
PAY_BUTTON = "リクルートかんたん支払いで支払う"


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("type") == "hidden":
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def forms_of(response) -> list[dict]:
    parser = _Forms()
    parser.feed(response.content.decode())
    return parser.forms


def new_order(shop, amount: int = 5000):
    return place_wallet_order(shop, lines=[LineInput("テスト商品", 2, amount // 2)], total=amount,
                              customer_name="山田 花子", by=Actor.system("test"))


def url(view: str, payment: Payment) -> str:
    return reverse(f"checkout:{view}", kwargs={"token": token_for(payment)})


def go_to_wallet(client, payment: Payment) -> tuple[str, dict]:
    """POST start on our page; returns the auto-submitted form (action, hidden fields)."""
    response = client.post(url("start", payment))
    assert response.status_code == 200, response.content.decode()
    [form] = forms_of(response)
    assert set(form["fields"]) == {"AccessID", "Token"}
    assert "csrfmiddlewaretoken" not in response.content.decode()  # our CSRF token never goes to the PG
    return form["action"], form["fields"]


def decide_at_wallet(client, payment: Payment, decision: str) -> str:
    """The buyer's browser at the StartURL: returns the Location the PG sends it back to."""
    action, fields = go_to_wallet(client, payment)
    answer = requests.post(action, data={**fields, "Decision": decision}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.startswith(wallet_return_url(payment) + "?")
    return location


def status_of(payment: Payment) -> str:
    payment.refresh_from_db()
    return payment.status


# --- the wallet flow ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # fulfilment moves after commit
def test_buyer_pays_with_recruit_and_comes_back_authorized(client, shop, sandbox):
    order = new_order(shop)
    payment = order.payment
    page = client.get(checkout_path(payment)).content.decode()
    for text in (shop.name, order.number, "テスト商品", "¥5,000", PAY_BUTTON, "未処理"):
        assert text in page

    location = decide_at_wallet(client, payment, "approve")
    response = client.get(location)

    assert response.status_code == 200
    assert "ありがとうございます" in response.content.decode()
    assert status_of(payment) == Status.AUTHORIZED and payment.get_status_display() == "仮売上"
    order.refresh_from_db()
    assert order.fulfilment_status == Fulfilment.NEW
    assert sandbox.calls("ExecTranRecruit")[0]["params"]["RetURL"] == wallet_return_url(payment)


@pytest.mark.django_db(transaction=True)
def test_immediate_capture_shop_completes_the_payment(client, shop, sandbox):
    shop.capture_mode = "capture"
    shop.save()
    order = new_order(shop)
    client.get(decide_at_wallet(client, order.payment, "approve"))
    assert status_of(order.payment) == Status.CAPTURED
    assert order.payment.get_status_display() == "決済完了"
    order.refresh_from_db()
    assert order.fulfilment_status == Fulfilment.PAID


def test_buyer_who_presses_back_sees_pay_again(client, shop, sandbox):
    payment = new_order(shop).payment
    response = client.get(decide_at_wallet(client, payment, "abandon"))
    body = response.content.decode()
    assert status_of(payment) == Status.NEEDS_CONFIRMATION
    assert "お支払いは完了していません" in body and "要確認" in body
    methods = {form["fields"].get("method") for form in forms_of(response)}
    assert methods == {"recruit", "card"}


def test_failed_wallet_payment_is_payment_failed(client, shop, sandbox):
    payment = new_order(shop).payment
    response = client.get(decide_at_wallet(client, payment, "fail"))
    assert status_of(payment) == Status.PAYMENT_FAILED
    assert "決済失敗" in response.content.decode()


def test_forged_return_query_is_not_trusted(client, shop, sandbox):
    payment = new_order(shop).payment
    go_to_wallet(client, payment)  # the buyer never approves: the PG shows REQSUCCESS
    forged = urlencode({"ShopID": shop.gmo_shop_id, "OrderID": payment.gateway_order_id, "Status": "AUTH",
                        "JobCd": "AUTH", "Amount": "5000", "Tax": "0", "AccessID": payment.access_id})
    response = client.get(f"{url('return', payment)}?{forged}")
    assert status_of(payment) != Status.AUTHORIZED
    assert payment.status == Status.NEEDS_CONFIRMATION  # the buyer is back, the PG shows it unfinished
    assert "ありがとうございます" not in response.content.decode()
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "REQSUCCESS"


def test_return_when_the_pg_cannot_be_reached_says_it_will_be_confirmed(client, shop, sandbox, settings):
    payment = new_order(shop).payment
    location = decide_at_wallet(client, payment, "approve")
    settings.GMO_PG_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    response = client.get(location)
    assert "まもなく自動で確定します" in response.content.decode()
    assert status_of(payment) == Status.UNPROCESSED


# --- paying again -------------------------------------------------------------------------------------


def test_pay_again_by_card(client, shop, sandbox):
    old = new_order(shop).payment
    client.get(decide_at_wallet(client, old, "abandon"))
    response = client.post(url("pay_again", old), {"method": "card"})
    assert response.status_code == 302
    old.refresh_from_db()
    new = old.replaced_by
    assert new is not None and new.method == Method.CARD and response.url == checkout_path(new)
    assert old.status == Status.CANCELLED and old.get_status_display() == "注文キャンセル"
    assert sandbox.wallet_transaction(old.gateway_order_id)["status"] == "CANCEL"  # cancelled at the PG by us

    page = client.get(response.url).content.decode()
    assert 'name="card_no"' not in page and "カード情報を入力して支払う" in page
    link = html.unescape(re.search(r'id="card-link" href="([^"]+)"', page).group(1))
    assert link.startswith(f"{sandbox.base_url}/token?")
    assert parse_qs(urlsplit(link).query)["return_url"] == [card_return_url(new)]

    # A card number where the token belongs is refused before anything reaches the gateway.
    refused = client.get(f"{url('card_return', new)}?token={VISA_OK}")
    assert refused.status_code == 400 and "もう一度カード情報を入力" in refused.content.decode()
    assert status_of(new) == Status.UNPROCESSED and not sandbox.calls("EntryTran")

    token = sandbox.create_token(VISA_OK)
    answer = client.get(f"{url('card_return', new)}?{urlencode({'token': token})}")
    assert answer.status_code == 302 and answer.url == checkout_path(new)
    assert status_of(new) == Status.AUTHORIZED and new.get_status_display() == "仮売上"
    assert "ありがとうございます" in client.get(answer.url).content.decode()
    # The old link leads to the payment that took over.
    assert client.get(checkout_path(old)).url == checkout_path(new)


def test_declined_card_through_the_tokenizer_page_shows_the_reason(client, shop, sandbox,
                                                                   django_capture_on_commit_callbacks):
    old = new_order(shop).payment
    client.get(decide_at_wallet(client, old, "fail"))
    new_page = client.post(url("pay_again", old), {"method": "card"}, follow=True).content.decode()
    link = html.unescape(re.search(r'id="card-link" href="([^"]+)"', new_page).group(1))
    return_url = parse_qs(urlsplit(link).query)["return_url"][0]
    # The buyer types the card number on GMO's page, which sends the browser back with only a token.
    answer = requests.post(link.split("?")[0], data={"card_no": VISA_DECLINED, "expire": "3012",
                                                     "security_code": "123", "return_url": return_url},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 303
    response = client.get(answer.headers["Location"])
    assert response.status_code == 402
    assert "承認されませんでした" in response.content.decode() and "残高不足" in response.content.decode()
    old.refresh_from_db()
    refused = old.replaced_by
    assert status_of(refused) == Status.FAILED
    refused.orders.update(fulfilment_status="not_placed")  # as the receiver does after the refusal commits

    # SPEC 3.1: the buyer sees the card step again. A refused card holds nothing at GMO: a new card payment.
    retry = client.post(url("pay_again", refused), {"method": "card"})
    assert retry.status_code == 302
    refused.refresh_from_db()
    fresh = refused.replaced_by
    assert fresh.method == Method.CARD and fresh.status == Status.UNPROCESSED and refused.status == Status.FAILED
    token = sandbox.create_token(VISA_OK)
    with django_capture_on_commit_callbacks(execute=True):  # the order follows its payment after commit
        client.get(f"{url('card_return', fresh)}?{urlencode({'token': token})}")
    assert status_of(fresh) == Status.AUTHORIZED
    assert list(fresh.orders.values_list("fulfilment_status", flat=True)) == ["new"]


def test_pay_again_with_recruit(client, shop, sandbox):
    old = new_order(shop).payment
    client.get(decide_at_wallet(client, old, "fail"))
    response = client.post(url("pay_again", old), {"method": "recruit"}, follow=True)
    assert PAY_BUTTON in response.content.decode()
    old.refresh_from_db()
    new = old.replaced_by
    assert new.method == Method.RECRUIT and new.status == Status.UNPROCESSED
    again = client.post(url("pay_again", old), {"method": "card"})  # a second click on the old page
    assert again.status_code == 302 and again.url == checkout_path(new)
    assert Payment.objects.count() == 2
    client.get(decide_at_wallet(client, new, "approve"))
    assert status_of(new) == Status.AUTHORIZED


def test_pay_again_is_refused_for_a_live_authorization(client, shop, sandbox):
    payment = new_order(shop).payment
    client.get(decide_at_wallet(client, payment, "approve"))
    response = client.post(url("pay_again", payment), {"method": "card"})
    assert response.status_code == 409
    assert status_of(payment) == Status.AUTHORIZED and not sandbox.calls("RecruitCancel")


# --- refusals -----------------------------------------------------------------------------------------


def test_shop_that_closed_wallet_checkouts_starts_nothing(client, shop, sandbox):
    payment = new_order(shop).payment
    shop.wallet_checkout_enabled = False
    shop.save()
    page = client.get(checkout_path(payment)).content.decode()
    assert "受け付けていません" in page and PAY_BUTTON not in page
    response = client.post(url("start", payment))
    assert response.status_code == 409 and "受け付けていません" in response.content.decode()
    assert sandbox.calls("EntryTranRecruit") == [] and sandbox.calls("ExecTranRecruit") == []
    assert status_of(payment) == Status.UNPROCESSED


def test_second_start_says_already_started(client, shop, sandbox):
    payment = new_order(shop).payment
    go_to_wallet(client, payment)
    response = client.post(url("start", payment))
    assert response.status_code == 409 and "すでに開始されています" in response.content.decode()
    assert len(sandbox.calls("EntryTranRecruit")) == 1


def test_gateway_refusal_at_start_shows_a_message_and_a_retry_works(client, shop, sandbox):
    payment = new_order(shop).payment
    sandbox.set_faults(rules=[{"api": "ExecTranRecruit", "action": "error", "err_info": "E92000001", "times": 1}])
    response = client.post(url("start", payment))
    assert response.status_code == 402 and "受け付けませんでした" in response.content.decode()
    assert PAY_BUTTON in response.content.decode()
    go_to_wallet(client, payment)  # the buyer tries again
    assert len(sandbox.calls("EntryTranRecruit")) == 1


def test_start_needs_the_csrf_token(shop, sandbox):
    payment = new_order(shop).payment
    response = Client(enforce_csrf_checks=True).post(url("start", payment))
    assert response.status_code == 403
    assert sandbox.calls("EntryTranRecruit") == []


def test_tampered_links_are_404(client, shop, sandbox):
    payment = new_order(shop).payment
    good = token_for(payment)
    for bad in (good[:-1] + ("A" if good[-1] != "A" else "B"), str(payment.pk),
                signing.Signer(salt="other").sign(str(payment.pk)), f"{payment.pk + 1}:{good.split(':')[1]}"):
        for view in ("page", "return", "card_return"):
            assert client.get(reverse(f"checkout:{view}", kwargs={"token": bad})).status_code == 404
        assert client.post(reverse("checkout:start", kwargs={"token": bad})).status_code == 404
    assert sandbox.calls() == []


# --- result notification ------------------------------------------------------------------------------


def wait_for(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.django_db(transaction=True)
def test_notification_settles_the_payment(live_server, shop, sandbox):
    sandbox.set_wallet_notify_url(shop.gmo_shop_id, live_server.url + NOTIFY_PATH, retries=3, interval_seconds=0.2)
    # The PG is busy once: we answer 503 without "0", and the PG's retry settles it.
    sandbox.set_faults(rules=[{"api": "SearchTradeMulti", "action": "error", "err_info": "E92000001", "times": 1}])
    order = wallet_order(shop, sandbox, approve=False)
    payment = order.payment
    sandbox.wallet_approve(payment.access_id)

    attempts = wait_for(lambda: [a for a in sandbox.wallet_notifications(payment.gateway_order_id) if a["ok"]])
    assert attempts[0]["answer"] == "0" and attempts[0]["status"] == "AUTH"
    first = sandbox.wallet_notifications(payment.gateway_order_id)[0]
    assert first["http_status"] == 503 and not first["ok"]
    assert status_of(payment) == Status.AUTHORIZED
    order.refresh_from_db()
    assert order.fulfilment_status == Fulfilment.NEW


def notify(client, **fields):
    body = urlencode(fields, encoding="cp932")
    return client.post(NOTIFY_PATH, data=body, content_type="application/x-www-form-urlencoded")


def test_notification_body_is_never_applied(client, shop, sandbox):
    payment = wallet_order(shop, sandbox, approve=False).payment  # the PG shows REQSUCCESS
    response = notify(client, ShopID=shop.gmo_shop_id, ShopPass="*" * 10, OrderID=payment.gateway_order_id,
                      Status="AUTH", JobCd="AUTH", Amount="5000", ClientField1="テスト①～")
    assert response.status_code == 200 and response.content == b"0"
    assert status_of(payment) == Status.UNPROCESSED  # the buyer may still be on the wallet's page


def test_notification_for_an_unknown_order_is_404(client, shop, sandbox):
    payment = wallet_order(shop, sandbox, approve=False).payment
    before = PaymentOperation.objects.count()
    for shop_id, order_id in ((shop.gmo_shop_id, "260101-unknown"), ("tshopother", payment.gateway_order_id)):
        response = notify(client, ShopID=shop_id, OrderID=order_id, Status="AUTH")
        assert response.status_code == 404 and response.content == b"unknown order"
    assert PaymentOperation.objects.count() == before and sandbox.calls("SearchTradeMulti") == []


@pytest.mark.parametrize("body", [b"", b"OrderID", b"ShopID=x&OrderID=%ZZ\xff", b"ShopID=tshop1", b"Status=AUTH"])
def test_malformed_notification_is_400(client, shop, body):
    response = client.post(NOTIFY_PATH, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


def test_notification_is_post_only(client):
    assert client.get(NOTIFY_PATH).status_code == 405


def test_notification_when_the_pg_cannot_be_reached_is_503(client, shop, sandbox, settings):
    payment = wallet_order(shop, sandbox, approve=False).payment
    settings.GMO_PG_BASE_URL = "http://127.0.0.1:9"
    response = notify(client, ShopID=shop.gmo_shop_id, OrderID=payment.gateway_order_id, Status="AUTH")
    assert response.status_code == 503 and response.content != b"0"
