"""Claim test fixtures: a shop that also takes konbini payments through the Stripe sandbox."""

from __future__ import annotations

import pytest

from gateways.sandbox.stripe_konbini import DEFAULT_KEYS


@pytest.fixture
def konbini_shop(shop, sandbox, sandbox_server, settings):
    """`shop` with a Stripe account at the sandbox (card and wallet keep working for it too)."""
    settings.STRIPE_API_BASE = sandbox_server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    shop.set_stripe_secret_key(DEFAULT_KEYS[0])
    shop.set_stripe_webhook_secret("whsec_test_claims")
    shop.save()
    return shop
