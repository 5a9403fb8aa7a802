import pytest
from django.conf import settings
from rest_framework.test import APIClient

from shops.api_scopes import ALL_SCOPES
from shops.models import ShopApiToken


def api_client_for(shop, scopes=ALL_SCOPES) -> APIClient:
    _, raw = ShopApiToken.issue(shop, "test", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(shop):
    return api_client_for(shop)


@pytest.fixture
def other_api(other_shop):
    return api_client_for(other_shop)


def english(*clients):
    """Answers in English (the language cookie), for asserting on messages; returns the first client."""
    for client in clients:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return clients[0]


def without(*scopes) -> list[str]:
    return [scope for scope in ALL_SCOPES if scope not in scopes]


@pytest.fixture
def english_api(api, other_api):
    english(api, other_api)
