import pytest
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
