"""The payment pages: confirm-before-acting, permissions, and shop scoping."""

import pytest
from django.urls import reverse

from orders.models import Order
from payments.models import Payment, Status
from shops.models import Shop
from tests.factories import card_payment, member

pytestmark = pytest.mark.django_db


def detail(p):
    return reverse("admin:payments_payment_change", args=[p.pk])


def operate(p, kind):
    return reverse("admin:payments_payment_operate", args=[p.pk, kind])


def test_capture_through_confirm_page(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=4400)
    client.force_login(operator)
    page = client.get(detail(payment)).content.decode()
    assert "実売上処理" in page and "仮売上" in page
    confirm = client.get(operate(payment, "capture")).content.decode()
    assert "GMO経由でカードに¥4,400を請求します" in confirm
    assert sandbox.calls("AlterTran") == []  # nothing happens before the confirmation
    response = client.post(operate(payment, "capture"), {"version": payment.version, "confirmed": "1"}, follow=True)
    assert "完了しました" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED
    assert payment.operations.last().actor == operator


def test_cancel_confirm_explains_the_gateway_job(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    confirm = client.get(operate(payment, "cancel")).content.decode()
    assert "取消 (VOID)" in confirm and "本日" in confirm


def test_stale_confirm_page_is_changed_meanwhile(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    stale_version = payment.version
    client.post(operate(payment, "capture"), {"version": stale_version, "confirmed": "1"})
    response = client.post(operate(payment, "cancel"), {"version": stale_version, "confirmed": "1"}, follow=True)
    assert "他の操作により変更されました" in response.content.decode()
    assert Payment.objects.get(pk=payment.pk).status == Status.CAPTURED
    assert len(sandbox.calls("AlterTran")) == 1


def test_gateway_error_is_shown_with_code_and_meaning(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "error", "err_code": "E01",
                               "err_info": "E01050004", "times": 1}])
    client.force_login(operator)
    response = client.post(operate(payment, "capture"), {"version": payment.version, "confirmed": "1"}, follow=True)
    page = response.content.decode()
    assert "E01050004" in page and "この取引の状態ではその処理はできません" in page
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTHORIZED


def test_staff_is_not_offered_cancel_and_cannot_force_it(client, shop, sandbox, staff):
    payment = card_payment(shop, sandbox)
    client.force_login(staff)
    page = client.get(detail(payment)).content.decode()
    assert "operation-capture" in page and "operation-cancel" not in page
    assert client.get(operate(payment, "cancel")).status_code == 403
    assert client.post(operate(payment, "cancel"), {"version": payment.version, "confirmed": "1"}).status_code == 403
    assert Payment.objects.get(pk=payment.pk).status == Status.AUTHORIZED


def test_only_allowed_transitions_are_offered(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    client.post(operate(payment, "cancel"), {"version": payment.version, "confirmed": "1"})
    page = client.get(detail(payment)).content.decode()
    assert "operation-capture" not in page and "operation-cancel" not in page


def test_other_shops_payment_is_404_and_never_listed(client, shop, other_shop, sandbox):
    card_payment(shop, sandbox, reference="MINE-1")
    theirs = card_payment(other_shop, sandbox, reference="THEIRS-1")
    user = member(shop, "admin")
    client.force_login(user)
    for url in (detail(theirs), operate(theirs, "capture"),
                reverse("admin:payments_payment_sync", args=[theirs.pk])):
        response = client.get(url)
        assert response.status_code == 404
        assert "THEIRS-1" not in response.content.decode()
    assert client.post(operate(theirs, "capture"), {"version": theirs.version, "confirmed": "1"}).status_code == 404
    listing = client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert "MINE-1" in listing and "THEIRS-1" not in listing
    searched = client.get(reverse("admin:payments_payment_changelist"), {"q": "THEIRS"}).content.decode()
    assert "THEIRS-1" not in searched
    assert Payment.objects.get(pk=theirs.pk).status == Status.AUTHORIZED


def test_unknown_payment_is_404(client, shop, operator):
    client.force_login(operator)
    assert client.get(reverse("admin:payments_payment_change", args=[999999])).status_code == 404


def test_orders_are_scoped_too(client, shop, other_shop):
    Order.objects.create(shop=other_shop, number="THEIRS-9", customer_name="x", total=100)
    client.force_login(member(shop, "admin"))
    assert "THEIRS-9" not in client.get(reverse("admin:orders_order_changelist")).content.decode()


def test_shop_password_is_write_only(admin_client, shop):
    page = admin_client.get(reverse("admin:shops_shop_change", args=[shop.pk])).content.decode()
    assert "pass1234" not in page and shop.gmo_shop_pass_encrypted not in page
    data = {"name": shop.name, "code": shop.code, "capture_mode": "authorize", "authorization_validity_days": 90,
            "expiry_warning_days": 7, "gmo_shop_id": shop.gmo_shop_id, "gmo_base_url": "", "gmo_shop_pass": "",
            "konbini_expires_after_days": 3, "stripe_secret_key": "sk_test_secret_1", "stripe_webhook_secret": "",
            "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0}
    admin_client.post(reverse("admin:shops_shop_change", args=[shop.pk]), data)
    assert Shop.objects.get(pk=shop.pk).gmo_shop_pass == "pass1234"  # empty field keeps it
    data["gmo_shop_pass"] = "newpass9"
    admin_client.post(reverse("admin:shops_shop_change", args=[shop.pk]), data)
    stored = Shop.objects.get(pk=shop.pk)
    assert stored.gmo_shop_pass == "newpass9" and "newpass9" not in stored.gmo_shop_pass_encrypted
    # The Stripe secret key is write-only too: stored encrypted, kept when left empty, never rendered back.
    assert stored.stripe_secret_key == "sk_test_secret_1"
    assert "sk_test_secret_1" not in stored.stripe_secret_key_encrypted
    data["stripe_secret_key"] = ""
    admin_client.post(reverse("admin:shops_shop_change", args=[shop.pk]), data)
    assert Shop.objects.get(pk=shop.pk).stripe_secret_key == "sk_test_secret_1"
    page = admin_client.get(reverse("admin:shops_shop_change", args=[shop.pk])).content.decode()
    assert "sk_test_secret_1" not in page


def test_english_is_available_by_choice(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    assert "Authorized" in client.get(detail(payment)).content.decode()


def change_status(p):
    return reverse("admin:payments_payment_change_status", args=[p.pk])


def test_change_status_offers_allowed_and_permitted_operations(client, shop, sandbox, operator, staff):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    page = client.get(change_status(payment)).content.decode()
    for kind in ("capture", "cancel", "change_amount"):
        assert f"operation-{kind}" in page
    assert "operation-reauthorize" not in page  # not from 仮売上
    client.force_login(staff)
    page = client.get(change_status(payment)).content.decode()
    assert "operation-capture" in page and "operation-cancel" not in page and "operation-change_amount" not in page


def test_amount_change_shows_current_and_new_then_applies(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    client.force_login(operator)
    url = operate(payment, "change_amount")
    form = client.get(url).content.decode()
    assert 'value="AUTH"' in form and 'value="CAPTURE"' in form
    confirm = client.post(url, {"new_amount": 2500, "job": "CAPTURE"}).content.decode()
    assert "¥3,000" in confirm and "¥2,500" in confirm and "即時売上 (CAPTURE)" in confirm
    assert sandbox.calls("ChangeTran") == []
    client.post(url, {"new_amount": 2500, "job": "CAPTURE", "confirmed": "1", "version": payment.version})
    payment.refresh_from_db()
    assert (payment.status, payment.amount) == (Status.CAPTURED_IMMEDIATELY, 2500)


def test_amount_change_of_a_sale_offers_only_immediate_capture(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    client.post(operate(payment, "capture"), {"version": payment.version, "confirmed": "1"})
    form = client.get(operate(payment, "change_amount")).content.decode()
    assert 'value="CAPTURE"' in form and 'value="AUTH"' not in form
    payment.refresh_from_db()
    refused = client.post(operate(payment, "change_amount"), {"new_amount": 100, "job": "AUTH"}).content.decode()
    assert "errorlist" in refused
    assert sandbox.calls("ChangeTran") == []


@pytest.mark.parametrize("amount", ["-1", "10000000", "abc", ""])
def test_bad_amount_in_the_form_changes_nothing(client, shop, sandbox, operator, amount):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    response = client.post(operate(payment, "change_amount"),
                           {"new_amount": amount, "job": "AUTH", "confirmed": "1", "version": payment.version})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert Payment.objects.get(pk=payment.pk).amount == payment.amount and sandbox.calls("ChangeTran") == []


def test_amount_zero_confirms_as_a_full_cancel(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    client.force_login(operator)
    confirm = client.post(operate(payment, "change_amount"), {"new_amount": 0, "job": "AUTH"}).content.decode()
    assert "取消 (VOID)" in confirm


def test_reauthorize_from_the_admin(client, shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    client.force_login(operator)
    client.post(operate(payment, "cancel"), {"version": payment.version, "confirmed": "1"})
    payment.refresh_from_db()
    assert "operation-reauthorize" in client.get(change_status(payment)).content.decode()
    confirm = client.post(operate(payment, "reauthorize"), {"job": "AUTH", "new_amount": 3000}).content.decode()
    assert "再オーソリ" in confirm
    client.post(operate(payment, "reauthorize"),
                {"job": "AUTH", "new_amount": 3000, "confirmed": "1", "version": payment.version})
    payment.refresh_from_db()
    assert payment.status == Status.AUTHORIZED


def test_history_shows_who_did_what_with_the_gateway_result(client, shop, sandbox, staff):
    payment = card_payment(shop, sandbox)
    client.force_login(staff)
    client.post(operate(payment, "capture"), {"version": payment.version, "confirmed": "1"})
    page = client.get(detail(payment)).content.decode()
    assert "payment-history" in page
    assert staff.username in page and "SALES" in page and "成功" in page
