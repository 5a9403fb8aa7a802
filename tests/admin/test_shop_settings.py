"""Shop settings: the wallet switches are editable, and a new card validity re-derives stored expiries."""

from datetime import timedelta

import pytest
from django.urls import reverse

from payments.models import Payment
from shops.roles import Role
from tests.factories import card_payment, member, wallet_order

pytestmark = pytest.mark.django_db


def test_validity_change_recomputes_card_expiry_only(client, shop, sandbox):
    card = card_payment(shop, sandbox)
    wallet = wallet_order(shop, sandbox).payment
    wallet_expiry = wallet.authorization_expires_at
    client.force_login(member(shop, Role.ADMIN))
    url = reverse("admin:shops_shop_change", args=[shop.pk])
    form = client.get(url).context["adminform"].form
    data = {**{k: v for k, v in form.initial.items() if v is not None}, "authorization_validity_days": 30,
            "wallet_checkout_enabled": "", "wallet_auth_extension_enabled": "on",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    data.pop("gmo_shop_pass", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    shop.refresh_from_db()
    assert (shop.wallet_checkout_enabled, shop.wallet_auth_extension_enabled) == (False, True)
    card = Payment.objects.get(pk=card.pk)
    assert card.authorization_expires_at == card.authorized_at + timedelta(days=30)
    assert Payment.objects.get(pk=wallet.pk).authorization_expires_at == wallet_expiry
