"""Fixtures for the Stripe konbini adapter against the sandbox over real HTTP (no database)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateways.stripe import webhooks
from gateways.stripe.konbini import StripeKonbiniGateway

SHOP_KEY = "sk_test_sandbox_shop1"
OTHER_SHOP_KEY = "sk_test_sandbox_shop2"
WEBHOOK_SECRET = "whsec_test_konbini_0123456789"


@pytest.fixture
def gateway(sandbox, sandbox_server) -> StripeKonbiniGateway:
    # No SDK retries by default so call counts in assertions are exact; tests that need retries build their own.
    return StripeKonbiniGateway(SHOP_KEY, sandbox_server.url, timeout=3, max_network_retries=0)


@pytest.fixture
def other_gateway(sandbox, sandbox_server) -> StripeKonbiniGateway:
    return StripeKonbiniGateway(OTHER_SHOP_KEY, sandbox_server.url, timeout=3, max_network_retries=0)


class Receiver:
    """A tiny webhook endpoint: verifies each POST with ``webhooks.verify`` and keeps what it saw."""

    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[dict] = []  # {"id", "type", "ok", "error", "body", "header"}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get("Stripe-Signature")
                try:
                    event = webhooks.verify(body, header, receiver.secret)
                    entry = {"id": event["id"], "type": event["type"], "ok": True, "error": ""}
                except webhooks.WebhookError as exc:
                    entry = {"id": None, "type": None, "ok": False, "error": type(exc).__name__}
                entry.update(body=body, header=header)
                with receiver.lock:
                    receiver.received.append(entry)
                answer = json.dumps({"received": entry["ok"]}).encode()
                self.send_response(200 if entry["ok"] else 400)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks/stripe"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def receiver(sandbox):
    r = Receiver(WEBHOOK_SECRET)
    sandbox.stripe_set_webhook(r.url, WEBHOOK_SECRET, interval_seconds=0.05)
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()
