"""Gateway credentials entered in the shop admin are stored encrypted and never rendered back."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.urls import reverse

from shops.models import Shop
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GMO_PASS = "GmoPass-Clear-7391"
STRIPE_KEY = "sk_test_ClearTextKey_5518"
WEBHOOK_SECRET = "whsec_ClearTextSecret_2207"


def raw_row(shop) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Shop._meta.db_table} WHERE id = %s", [shop.pk])
        return repr(cursor.fetchone())


def test_secrets_entered_in_the_admin_are_encrypted_in_the_column_and_never_shown(client, shop, caplog):
    caplog.set_level(logging.DEBUG)
    client.force_login(UserFactory(is_superuser=True))
    url = reverse("admin:shops_shop_change", args=[shop.pk])
    form = client.get(url).context["adminform"].form
    data = {**{k: v for k, v in form.initial.items() if v is not None}, "gmo_shop_pass": GMO_PASS,
            "stripe_secret_key": STRIPE_KEY, "stripe_webhook_secret": WEBHOOK_SECRET,
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    shop.refresh_from_db()
    assert (shop.gmo_shop_pass, shop.stripe_secret_key, shop.stripe_webhook_secret) == (
        GMO_PASS, STRIPE_KEY, WEBHOOK_SECRET)  # readable by us, with the key
    row = raw_row(shop)
    for secret in (GMO_PASS, STRIPE_KEY, WEBHOOK_SECRET):
        assert secret not in row  # the column holds ciphertext only
        assert secret not in caplog.text
    assert shop.gmo_shop_pass_encrypted.startswith("gAAAA")  # a Fernet token

    page = client.get(url).content.decode()
    for secret in (GMO_PASS, STRIPE_KEY, WEBHOOK_SECRET):
        assert secret not in page
    for encrypted in (shop.gmo_shop_pass_encrypted, shop.stripe_secret_key_encrypted,
                      shop.stripe_webhook_secret_encrypted):
        assert encrypted not in page  # not even the ciphertext


def test_an_empty_password_field_keeps_the_stored_secret(client, shop):
    client.force_login(UserFactory(is_superuser=True))
    before = shop.gmo_shop_pass
    url = reverse("admin:shops_shop_change", args=[shop.pk])
    form = client.get(url).context["adminform"].form
    data = {**{k: v for k, v in form.initial.items() if v is not None}, "gmo_shop_pass": "",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    assert client.post(url, data).status_code == 302
    shop.refresh_from_db()
    assert shop.gmo_shop_pass == before and before not in raw_row(shop)
