"""API tokens in the admin: scopes shown and edited with checkboxes, revoked, never issued or deleted there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from shops.models import ShopApiToken
from shops.roles import Role
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(shop):
    return ShopApiToken.issue(shop, "erp", scopes=["read", "capture"])[0]


@pytest.fixture
def root(client):
    user = UserFactory(is_superuser=True)
    client.force_login(user)
    return user


def test_the_list_shows_scopes_in_a_fixed_number_of_queries(client, shop, token, root,
                                                            django_assert_max_num_queries):
    url = reverse("admin:shops_shopapitoken_changelist")
    with django_assert_max_num_queries(12) as few:
        page = client.get(url)
    assert "read, capture" in page.content.decode()
    for i in range(20):
        ShopApiToken.issue(shop, f"t{i}", scopes=["read"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_scopes_are_checkboxes_and_edited_by_a_superuser(client, token, root):
    url = reverse("admin:shops_shopapitoken_change", args=[token.pk])
    page = client.get(url).content.decode()
    assert 'type="checkbox" name="scopes" value="cancel"' in page
    assert 'name="scopes" value="read" id="id_scopes_0" checked' in page
    response = client.post(url, {"name": "erp", "scopes": ["cancel", "read"]})
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.scopes == ["read", "cancel"] and token.revoked_at is None  # stored in the canonical order


def test_an_unknown_scope_is_refused_and_nothing_changes(client, token, root):
    url = reverse("admin:shops_shopapitoken_change", args=[token.pk])
    response = client.post(url, {"name": "erp", "scopes": ["read", "everything"]})
    assert response.status_code == 200 and response.context["adminform"].form.errors["scopes"]
    token.refresh_from_db()
    assert token.scopes == ["read", "capture"]


def test_revoke_makes_the_token_unusable_and_read_only(client, token, root):
    url = reverse("admin:shops_shopapitoken_change", args=[token.pk])
    assert client.post(url, {"name": "erp", "scopes": ["read", "capture"], "revoke": "on"}).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert ShopApiToken.objects.active().filter(pk=token.pk).count() == 0
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(url, {"name": "renamed", "scopes": ["read"]}).status_code == 403


def test_revoke_action_on_the_list(client, shop, token, root):
    other = ShopApiToken.issue(shop, "other", scopes=["read"])[0]
    response = client.post(reverse("admin:shops_shopapitoken_changelist"),
                           {"action": "revoke_tokens", "_selected_action": [token.pk]})
    assert response.status_code == 302
    token.refresh_from_db()
    other.refresh_from_db()
    assert token.revoked_at is not None and other.revoked_at is None


def test_tokens_are_not_issued_deleted_or_moved_in_the_admin(client, shop, other_shop, token, root):
    assert client.get(reverse("admin:shops_shopapitoken_add")).status_code == 403
    assert client.get(reverse("admin:shops_shopapitoken_delete", args=[token.pk])).status_code == 403
    url = reverse("admin:shops_shopapitoken_change", args=[token.pk])
    client.post(url, {"name": "erp", "scopes": ["read"], "shop": other_shop.pk})
    token.refresh_from_db()
    assert token.shop == shop  # the shop is read-only


def test_only_superusers_see_tokens(client, shop, token):
    client.force_login(member(shop, Role.ADMIN))
    assert client.get(reverse("admin:shops_shopapitoken_changelist")).status_code == 403
    assert client.get(reverse("admin:shops_shopapitoken_change", args=[token.pk])).status_code == 403
