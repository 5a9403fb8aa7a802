"""Konbini reservations through the real flow: our services → stripe SDK → sandbox → signed webhook → our
endpoint (live_server) → Celery task (eager here; tests/konbini/test_worker.py runs a real worker)."""

from __future__ import annotations

import threading
import time

import pytest

from gateways.sandbox.stripe_konbini import DEFAULT_KEYS
from payments_admin.celery import app as celery_app

WEBHOOK_SECRET = "whsec_test_konbini_shop"


@pytest.fixture
def eager_tasks():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def konbini_shop(shop, sandbox, sandbox_server, settings):
    """The shop with a Stripe account at the sandbox (its own key) and the webhook secret set."""
    settings.STRIPE_API_BASE = sandbox_server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0  # call counts in assertions stay exact
    shop.set_stripe_secret_key(DEFAULT_KEYS[0])
    shop.set_stripe_webhook_secret(WEBHOOK_SECRET)
    shop.save()
    return shop


@pytest.fixture
def webhooks_to_us(konbini_shop, sandbox, live_server, eager_tasks):
    """The sandbox delivers the shop's signed events to our endpoint on the live server."""
    url = f"{live_server.url}/gateways/stripe/webhook/{konbini_shop.code}/"
    sandbox.stripe_set_webhook(url, WEBHOOK_SECRET, api_key=DEFAULT_KEYS[0], interval_seconds=0.05)
    yield url
    # Late deliveries must not reach the live server after the test's data is gone.
    sandbox.reset()  # a new generation: in-flight retries stop too
    # A delivery already on the wire still runs its request on the live server: wait for it, or the database
    # flush that ends the test deadlocks with that request's transaction.
    deadline = time.monotonic() + 10
    while any(t.name == "stripe-webhook" and t.is_alive() for t in threading.enumerate()) \
            and time.monotonic() < deadline:
        time.sleep(0.02)
