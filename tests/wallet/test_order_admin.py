"""The order page drives a Recruit easy pay order: edit → capture blocked → send change → capture."""

import re

import pytest
from django.urls import reverse

from payments.models import Status
from shops.api_scopes import ALL_SCOPES
from shops.roles import Role
from tests.factories import ShopFactory, member, wallet_order

pytestmark = pytest.mark.django_db


def _page(client, order) -> str:
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _button(html: str, element_id: str) -> str:
    match = re.search(rf'<(a|button)[^>]*id="{element_id}"[^>]*>', html)
    assert match, f"no #{element_id} on the page"
    return match.group(0)


def test_edit_blocks_capture_until_sent_then_capture(client, shop, sandbox):
    order = wallet_order(shop, sandbox, amount=5000)
    client.force_login(member(shop, Role.OPERATOR))
    line = order.lines.get()

    html = _page(client, order)
    assert "仮売上" in html
    assert "disabled" not in _button(html, "operation-capture")
    assert "disabled" in _button(html, "operation-change_amount")  # nothing unsent yet

    response = client.post(reverse("admin:orders_order_edit", args=[order.pk]), {
        f"quantity-{line.pk}": "1", f"unit_price-{line.pk}": "4200", "shipping_fee": "0", "fees": "0",
        "version": str(order.payment.version)})
    assert response.status_code == 302
    order.payment.refresh_from_db()
    assert (order.payment.amount, order.payment.pending_amount) == (5000, 4200)

    html = _page(client, order)
    assert "disabled" in _button(html, "operation-capture")
    assert "has not been sent to the PG" in html or "PGに送信されていません" in html
    assert "disabled" not in _button(html, "operation-change_amount")

    # A capture forced through the URL is refused by the service, not just hidden.
    capture_url = reverse("admin:payments_payment_operate", args=[order.payment.pk, "capture"])
    confirm = client.get(capture_url).content.decode()
    assert 'id="operation-refused"' in confirm
    assert not sandbox.calls("RecruitSales")

    send_url = reverse("admin:payments_payment_operate", args=[order.payment.pk, "change_amount"])
    confirm = client.get(send_url).content.decode()
    assert "¥5,000" in confirm and "¥4,200" in confirm
    order.payment.refresh_from_db()
    back = reverse("admin:orders_order_change", args=[order.pk])
    response = client.post(send_url, {"confirmed": "1", "version": order.payment.version, "next": back})
    assert response.status_code == 302 and response["Location"] == back
    order.payment.refresh_from_db()
    assert (order.payment.amount, order.payment.pending_amount) == (4200, None)
    assert sandbox.wallet_transaction(order.payment.gateway_order_id)["amount"] == 4200

    client.post(capture_url, {"confirmed": "1", "version": order.payment.version, "next": back})
    order.payment.refresh_from_db()
    assert order.payment.status == Status.CAPTURED
    assert [c["params"]["Amount"] for c in sandbox.calls("RecruitSales")] == ["4200"]
    assert "決済完了" in _page(client, order)


def test_refused_edit_changes_nothing(client, shop, sandbox):
    order = wallet_order(shop, sandbox, amount=5000, points=5000)  # paid with points only
    client.force_login(member(shop, Role.OPERATOR))
    line = order.lines.get()
    response = client.post(reverse("admin:orders_order_edit", args=[order.pk]), {
        f"quantity-{line.pk}": "2", f"unit_price-{line.pk}": "5000", "shipping_fee": "0", "fees": "0",
        "version": str(order.payment.version)})
    assert response.status_code == 200
    assert 'id="edit-refused"' in response.content.decode()
    order.refresh_from_db()
    order.payment.refresh_from_db()
    line.refresh_from_db()
    assert (order.total, line.quantity, order.payment.pending_amount) == (5000, 1, None)


def test_viewer_sees_no_operations_and_other_shop_gets_404(client, shop, sandbox):
    order = wallet_order(shop, sandbox)
    client.force_login(member(shop, Role.VIEWER))
    html = _page(client, order)
    assert 'id="operation-capture"' not in html and 'id="edit-order"' not in html
    assert client.get(reverse("admin:orders_order_edit", args=[order.pk])).status_code == 403

    client.force_login(member(ShopFactory(), Role.ADMIN))
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 404
    ship = reverse("admin:orders_order_ship", args=[order.pk])
    assert client.post(ship, {"slip_number": "123456"}).status_code == 404


def test_ship_then_cancel_refused_until_goods_returned(client, shop, sandbox):
    order = wallet_order(shop, sandbox)
    client.force_login(member(shop, Role.ADMIN))
    payment = order.payment
    from payments import services
    from payments.actors import Actor

    services.capture_payment(payment, by=Actor.system("test"))
    client.post(reverse("admin:orders_order_ship", args=[order.pk]), {"carrier": "ヤマト", "slip_number": "1234-5678"})
    shipment = order.shipments.get()
    assert shipment.slip_number == "1234-5678" and shipment.shipped_at
    html = _page(client, order)
    assert "disabled" in _button(html, "operation-cancel")
    client.post(reverse("admin:orders_order_returned", args=[order.pk]))
    html = _page(client, order)
    assert "disabled" not in _button(html, "operation-cancel")


def test_bulk_capture_of_selected_orders_reuses_the_bulk_run(client, shop, sandbox, settings):
    from bulk.models import BulkRun
    from bulk.processing import process_run

    settings.CELERY_TASK_ALWAYS_EAGER = False
    ready = [wallet_order(shop, sandbox, amount=1000 + i) for i in range(3)]
    unsent = wallet_order(shop, sandbox, amount=2000)
    from payments import services
    from payments.actors import Actor

    services.record_amount_change(unsent.payment, new_amount=1500, by=Actor.system("test"))
    client.force_login(member(shop, Role.STAFF))
    url = reverse("admin:orders_order_changelist")
    ids = [str(o.pk) for o in (*ready, unsent)]
    confirm = client.post(url, {"action": "capture_selected_orders", "_selected_action": ids})
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "not sent to the PG" in html or "PGに送信" in html
    summary = confirm.context["summary"]
    assert summary.jobs["SALES"].count == 3 and summary.jobs["SALES"].total == 3003
    response = client.post(url, {"action": "capture_selected_orders", "_selected_action": ids, "bulk_confirm": "1",
                                 "request_key": confirm.context["request_key"], "fingerprint": summary.fingerprint,
                                 "cutoff": summary.cutoff})
    assert response.status_code == 302
    run = BulkRun.objects.get()
    process_run(run.pk)
    statuses = sorted(o.payment.__class__.objects.get(pk=o.payment_id).status for o in (*ready, unsent))
    assert statuses == ["authorized", "captured", "captured", "captured"]
    assert len(sandbox.calls("RecruitSales")) == 3


def test_api_creates_a_recruit_order_with_its_checkout_link(shop, sandbox):
    from rest_framework.test import APIClient

    from shops.models import ShopApiToken

    _, raw = ShopApiToken.issue(shop, "test", scopes=ALL_SCOPES)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    body = {"customer": {"name": "山田 花子"}, "lines": [{"product_name": "茶碗", "quantity": 2, "unit_price": 1500}],
            "shipping_fee": 500, "total": 3500, "payment": {"method": "recruit"}}
    response = api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["payment"]["method"] == "recruit" and data["payment"]["status"] == "unprocessed"
    assert data["payment"]["amount"] == 3500 and "/checkout/" in data["checkout_url"]
    assert not sandbox.calls("EntryTranRecruit")  # the checkout starts when the buyer opens the link
    missing = api.post("/api/v1/orders/", {**body, "payment": {"method": "card"}}, format="json",
                       HTTP_IDEMPOTENCY_KEY="k-2")
    assert missing.status_code == 400 and "token" in str(missing.json())
