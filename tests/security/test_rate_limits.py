"""Rate limits on the public endpoints (webhooks, customer pages) and the API: 429 + Retry-After, nothing done."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured

from claims.customer_links import order_path
from claims.models import Claim
from orders.models import Delivery
from payments.models import StripeEvent
from payments_admin.rate_limits import Rate, parse_rate
from tests.api.conftest import api_client_for
from tests.claims.helpers import bank_order
from tests.konbini.flow_helpers import fake_event, signed

pytestmark = pytest.mark.django_db

SECRET = "whsec_rate_limit_test_0123456789"


@pytest.fixture(autouse=True)
def start_of_a_window():
    """Windows are aligned to the clock: a test straddling a minute boundary would see its count reset.
    Start each test 1 s into a minute (time runs on; a test takes far less than 59 s)."""
    with time_machine.travel(datetime(2026, 11, 24, 3, 0, 1, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def stripe_shop(shop):
    shop.set_stripe_webhook_secret(SECRET)
    shop.save()
    return shop


def deliver(client, shop, ip="198.51.100.10"):
    """One signed Stripe delivery of a new event from `ip`: (response, event id)."""
    event = fake_event("payment_intent.processing", {"id": "pi_unknown", "object": "payment_intent"})
    body, header = signed(event, SECRET)
    response = client.post(f"/gateways/stripe/webhook/{shop.code}/", data=body, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=header, REMOTE_ADDR=ip)
    return response, event["id"]


def test_parse_rate():
    assert parse_rate("600/m") == Rate(600, 60)
    assert parse_rate("1200/min") == Rate(1200, 60)
    assert parse_rate("10/hour") == Rate(10, 3600)
    assert parse_rate("5/s") == Rate(5, 1)
    assert parse_rate("0") is None and parse_rate("") is None and parse_rate(None) is None
    assert parse_rate("0/m") is None
    with pytest.raises(ImproperlyConfigured):
        parse_rate("600 per minute")
    with pytest.raises(ImproperlyConfigured):
        parse_rate("600/fortnight")


def test_stripe_webhook_over_the_limit_is_429_and_records_nothing(client, stripe_shop, settings):
    settings.WEBHOOK_RATE_LIMIT = "3/m"
    for _ in range(3):
        response, _event_id = deliver(client, stripe_shop)
        assert response.status_code == 200
    refused, event_id = deliver(client, stripe_shop)

    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Content-Type"].startswith("text/plain")
    assert not StripeEvent.objects.filter(event_id=event_id).exists()  # the gateway delivers it again later
    assert StripeEvent.objects.filter(shop=stripe_shop).count() == 3

    other, other_id = deliver(client, stripe_shop, ip="198.51.100.11")  # another sender is unaffected
    assert other.status_code == 200 and StripeEvent.objects.filter(event_id=other_id).exists()


def test_a_rate_of_0_disables_the_limit(client, stripe_shop, settings):
    settings.WEBHOOK_RATE_LIMIT = "0"
    assert {deliver(client, stripe_shop)[0].status_code for _ in range(8)} == {200}


def test_gmo_notification_over_the_limit_is_429_before_anything_is_read(client, settings):
    settings.WEBHOOK_RATE_LIMIT = "2/m"
    answers = [client.post("/gateways/gmo/notify/", data="ShopID=x", content_type="application/x-www-form-urlencoded",
                           REMOTE_ADDR="203.0.113.9").status_code for _ in range(3)]
    assert answers == [400, 400, 429]  # a missing OrderID is refused 400 by the view; the third never reaches it


def test_customer_page_over_the_limit_is_a_japanese_429_and_changes_nothing(client, shop, settings):
    settings.CUSTOMER_RATE_LIMIT = "2/m"
    order = bank_order(shop, state=Delivery.NEW)
    assert client.get(order_path(order)).status_code == 200
    assert client.get(order_path(order)).status_code == 200

    refused = client.post(order_path(order, "cancel"), {"note": "キャンセルします"})

    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    page = refused.content.decode()
    assert "アクセスが集中しています" in page and "もう一度お試しください" in page
    assert not Claim.objects.filter(order=order).exists()
    # Another customer's address is unaffected: the same request from there goes through.
    assert client.post(order_path(order, "cancel"), {"note": "キャンセルします"},
                       REMOTE_ADDR="198.51.100.20").status_code == 302
    assert Claim.objects.filter(order=order).exists()


def test_api_token_over_its_limit_is_429_with_the_error_body(shop, other_shop, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": "3/min"}}
    api, other = api_client_for(shop), api_client_for(other_shop)
    assert [api.get("/api/v1/orders/").status_code for _ in range(3)] == [200, 200, 200]

    refused = api.get("/api/v1/orders/")

    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "throttled"
    assert other.get("/api/v1/orders/").status_code == 200  # counted per token
    # A POST over the limit creates nothing either.
    created = api.post("/api/v1/orders/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert created.status_code == 429


def test_api_rate_of_0_disables_the_throttle(shop, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": "0"}}
    api = api_client_for(shop)
    assert {api.get("/api/v1/orders/").status_code for _ in range(5)} == {200}


def test_the_defaults_are_the_documented_ones():
    from django.conf import settings

    assert (settings.WEBHOOK_RATE_LIMIT, settings.CUSTOMER_RATE_LIMIT, settings.API_RATE_LIMIT) == (
        "600/m", "60/m", "1200/min")
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == {"api_token": "1200/min"}
