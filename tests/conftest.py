"""Shared fixtures.

Services: tests marked `postgres` / `redis` need the real thing. Without it they skip locally, but
with REQUIRE_SERVICES=1 (CI) they FAIL, so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.utils import translation

from gateways.sandbox.control import SandboxControl
from gateways.sandbox.server import SandboxServer

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# Browser fixtures (one Chromium per session), shared by tests/browser and tests/bulk.
pytest_plugins = ["tests.browser.fixtures"]


def _missing(reason: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (REQUIRE_SERVICES=1): {reason}", pytrace=False)
    pytest.skip(reason)


def redis_reachable() -> bool:
    url = urlparse(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("PostgreSQL (set DATABASE_URL=postgres://…)")
    if item.get_closest_marker("redis") and not (os.environ.get("REDIS_URL") and redis_reachable()):
        _missing("Redis (set REDIS_URL=redis://…)")


def pytest_sessionstart(session):
    if REQUIRE_SERVICES and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise pytest.UsageError("REQUIRE_SERVICES=1 but DATABASE_URL is not a PostgreSQL URL")


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server, settings) -> SandboxControl:
    """A clean GMO sandbox for each test, with our adapter pointed at it."""
    control = SandboxControl(sandbox_server.url)
    control.reset()
    settings.GMO_PG_BASE_URL = sandbox_server.url
    settings.STRIPE_API_BASE = sandbox_server.url
    settings.GATEWAY_TIMEOUT_SECONDS = 3
    return control


@pytest.fixture
def english():
    """Messages in English for the test (Japanese is the default), so a test can match their English wording."""
    with translation.override("en"):
        yield


@pytest.fixture
def english_client(client, settings):
    """The test client asks for English pages (the language cookie); the admin's default is Japanese."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def shop(db):
    from tests.factories import ShopFactory

    return ShopFactory()


@pytest.fixture
def other_shop(db):
    from tests.factories import ShopFactory

    return ShopFactory()


@pytest.fixture
def operator(shop):
    from tests.factories import member

    return member(shop, "operator")


@pytest.fixture
def staff(shop):
    from tests.factories import member

    return member(shop, "staff")


@pytest.fixture
def celery_worker(transactional_db, settings):
    """A real Celery worker (threads) consuming from Redis, on a queue of its own for this test."""
    import uuid

    from celery.contrib.testing.worker import start_worker

    from payments_admin.celery import app

    if not (os.environ.get("REDIS_URL") and redis_reachable()):
        _missing("Redis for the Celery worker (set REDIS_URL=redis://…)")
    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = (app.conf.broker_url, app.conf.task_default_queue, app.conf.task_always_eager)
    app.conf.broker_url = os.environ["REDIS_URL"]
    app.conf.task_default_queue = queue
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                          loglevel="WARNING", shutdown_timeout=30, queues=[queue]):
            yield app
    finally:
        app.conf.broker_url, app.conf.task_default_queue, app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def own_rate_limit_counters(settings):
    """Each test counts requests under its own cache-key prefix, so limits never carry over from another test
    (or from another test process sharing the Redis database); its keys are deleted afterwards."""
    import uuid

    prefix = f"rl-test-{uuid.uuid4().hex[:12]}"
    settings.RATE_LIMIT_KEY_PREFIX = prefix
    yield prefix
    from django.core.cache import cache

    client = getattr(cache, "_cache", None)
    if hasattr(client, "get_client"):  # Redis: delete only this test's keys, never the whole database
        try:
            redis = client.get_client(write=True)
            keys = list(redis.scan_iter(match=cache.make_key(f"{prefix}:*"), count=1000))
            if keys:
                redis.delete(*keys)
        except Exception:  # the counters expire within their window anyway
            pass
