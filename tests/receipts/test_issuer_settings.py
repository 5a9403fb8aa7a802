"""The shop settings hold the receipt issuer and the qualified invoice registration number (T + 13 digits)."""

import pytest
from django.urls import reverse

from shops.admin import ShopForm
from shops.roles import Role
from tests.factories import member

pytestmark = pytest.mark.django_db


def form_for(shop, **changes):
    data = {**{k: v for k, v in ShopForm(instance=shop).initial.items() if v is not None}, **changes}
    return ShopForm(data, instance=shop)


@pytest.mark.parametrize("number, message", [
    ("1234567890123", "T followed by 13 digits"), ("T123456789012", "T followed by 13 digits"),
    ("t1234567890123", "T followed by 13 digits"), ("T123456789012X", "T followed by 13 digits"),
    ("T12345678901234", "at most 14 characters")])
def test_a_malformed_registration_number_is_refused(shop, english, number, message):
    form = form_for(shop, receipt_registration_number=number)
    assert not form.is_valid()
    assert message in str(form.errors["receipt_registration_number"])


def test_issuer_and_number_are_saved_and_blank_is_allowed(shop):
    form = form_for(shop, receipt_registration_number=" T1234567890123 ", receipt_issuer_name="株式会社デモ")
    assert form.is_valid(), form.errors
    form.save()
    shop.refresh_from_db()
    assert (shop.receipt_registration_number, shop.receipt_issuer) == ("T1234567890123", "株式会社デモ")
    form = form_for(shop, receipt_registration_number="", receipt_issuer_name="")
    assert form.is_valid(), form.errors
    form.save()
    shop.refresh_from_db()
    assert (shop.receipt_registration_number, shop.receipt_issuer) == ("", shop.name)


def test_the_settings_page_shows_the_fields(client, shop):
    client.force_login(member(shop, Role.ADMIN))
    page = client.get(reverse("admin:shops_shop_change", args=[shop.pk])).content.decode()
    assert 'name="receipt_registration_number"' in page and 'name="receipt_issuer_name"' in page
