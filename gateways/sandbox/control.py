"""Client of the sandbox control API (``/_sandbox/...``), for tests and the demo seeder."""

from datetime import datetime

import requests


class SandboxControl:
    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, json=None, params=None, allow_404: bool = False):
        response = self.session.request(method, f"{self.base_url}/_sandbox/{path}", json=json, params=params,
                                        timeout=self.timeout)
        if allow_404 and response.status_code == 404:
            return None
        if response.status_code >= 400:
            # Surface the sandbox's own message (e.g. "card number fails the Luhn check").
            message = f"{response.status_code} {method} {path}: {response.text}"
            raise requests.HTTPError(message, response=response)
        return response.json()

    def reset(self) -> None:
        self._call("POST", "reset")

    def calls(self, api: str | None = None) -> list[dict]:
        return self._call("GET", "calls", params={"api": api} if api else None)

    def clear_calls(self) -> None:
        self._call("DELETE", "calls")

    def faults(self) -> dict:
        return self._call("GET", "faults")

    def set_faults(self, latency_ms: int = 0, rules: list[dict] | None = None) -> dict:
        return self._call("POST", "faults", json={"latency_ms": latency_ms, "rules": list(rules or [])})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_clock(self, offset_seconds: float = 0, *, at: datetime | None = None) -> datetime:
        """Set the offset from real time, or jump to the absolute moment ``at``."""
        body = {"now": at.isoformat()} if at else {"offset_seconds": offset_seconds}
        return datetime.fromisoformat(self._call("POST", "clock", json=body)["now"])

    def advance_clock(self, seconds: float) -> datetime:
        return datetime.fromisoformat(self._call("POST", "clock", json={"advance_seconds": seconds})["now"])

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "clock")["now"])

    def transactions(self) -> list[dict]:
        return self._call("GET", "transactions")

    def transaction(self, order_id: str, shop_id: str | None = None) -> dict | None:
        params = {"shop_id": shop_id} if shop_id else None
        return self._call("GET", f"transactions/{order_id}", params=params, allow_404=True)

    def patch_transaction(self, order_id: str, *, shop_id: str | None = None, **fields) -> dict | None:
        """Change a transaction "in GMO's screen", e.g. ``status="VOID"``, ``auth_at=datetime(...)``."""
        body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
        params = {"shop_id": shop_id} if shop_id else None
        return self._call("POST", f"transactions/{order_id}", json=body, params=params, allow_404=True)

    def create_token(self, card_no: str, expire: str = "3012", security_code: str = "123") -> str:
        body = {"card_no": card_no, "expire": expire, "security_code": security_code}
        return self._call("POST", "tokens", json=body)["token"]

    def register_shop(self, shop_id: str, shop_pass: str) -> None:
        self._call("POST", "shops", json={"shop_id": shop_id, "shop_pass": shop_pass})

    # ---- GMO redirect wallets (gateways/sandbox/gmo_wallet.py) ------------------------------------------

    def wallet_transactions(self) -> list[dict]:
        return self._call("GET", "wallet/transactions")

    def wallet_transaction(self, order_id: str, shop_id: str | None = None) -> dict | None:
        params = {"shop_id": shop_id} if shop_id else None
        return self._call("GET", f"wallet/transactions/{order_id}", params=params, allow_404=True)

    def patch_wallet_transaction(self, order_id: str, *, shop_id: str | None = None, **fields) -> dict | None:
        """Change a wallet transaction "in GMO's screen", e.g. ``status="CANCEL"``, ``auth_expires_at=...``."""
        body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
        params = {"shop_id": shop_id} if shop_id else None
        return self._call("POST", f"wallet/transactions/{order_id}", json=body, params=params, allow_404=True)

    def _wallet_browser(self, access_id: str, action: str, **data) -> dict:
        return self._call("POST", f"wallet/browser/{access_id}/{action}", json=data)

    def wallet_start(self, access_id: str) -> dict:
        """The buyer's browser reaches StartURL (status AUTHPROCESS)."""
        return self._wallet_browser(access_id, "start")

    def wallet_approve(self, access_id: str, points: int = 0, coupon: int = 0, shop_coupon: int = 0) -> dict:
        """The buyer approves (AUTH / CAPTURE); returns status, the RetURL ``location`` and its ``fields``."""
        return self._wallet_browser(access_id, "approve", points=points, coupon=coupon, shop_coupon=shop_coupon)

    def wallet_abandon(self, access_id: str) -> dict:
        """The buyer presses 戻る: back to the shop, nothing decided (stays AUTHPROCESS)."""
        return self._wallet_browser(access_id, "abandon")

    def wallet_fail(self, access_id: str) -> dict:
        """The payment fails at the wallet (PAYFAIL)."""
        return self._wallet_browser(access_id, "fail")

    def set_wallet_notify_url(self, shop_id: str, url: str, *, retries: int | None = None,
                              interval_seconds: float | None = None, timeout_seconds: float | None = None) -> dict:
        """Register the shop's result-notification URL ("" removes it) and, optionally, its retry settings."""
        body = {"shop_id": shop_id, "url": url, "retries": retries, "interval_seconds": interval_seconds,
                "timeout_seconds": timeout_seconds}
        return self._call("POST", "wallet/notify", json=body)

    def wallet_notify_config(self) -> dict:
        """``{"defaults": {...}, "shops": {shop_id: {"url": ..., ...}}}``."""
        return self._call("GET", "wallet/notify")

    def wallet_notifications(self, order_id: str | None = None) -> list[dict]:
        """Every notification attempt (url, attempt, http_status, answer, ok, params)."""
        return self._call("GET", "wallet/notifications", params={"order_id": order_id} if order_id else None)

    def wallet_buyer_notices(self, order_id: str | None = None) -> list[dict]:
        """What the wallet would have mailed the buyer (one entry per amount change)."""
        return self._call("GET", "wallet/buyer-notices", params={"order_id": order_id} if order_id else None)

    # ---- Stripe-compatible konbini (gateways/sandbox/stripe_konbini.py) ---------------------------------

    def stripe_add_key(self, api_key: str) -> None:
        """Make ``sk_test_...`` a valid secret key (a new, empty sandbox account)."""
        self._call("POST", "stripe/keys", json={"api_key": api_key})

    def stripe_set_webhook(self, url: str, secret: str, *, api_key: str | None = None, retries: int | None = None,
                           interval_seconds: float | None = None, timeout_seconds: float | None = None) -> dict:
        """Where the account's events go, signed with ``secret`` (``whsec_...``); ``url=""`` removes it."""
        body = {"url": url, "secret": secret, "api_key": api_key, "retries": retries,
                "interval_seconds": interval_seconds, "timeout_seconds": timeout_seconds}
        return self._call("POST", "stripe/webhook", json=body)

    def stripe_intent(self, intent_id: str) -> dict | None:
        return self._call("GET", f"stripe/payment_intents/{intent_id}", allow_404=True)

    def stripe_pay(self, intent_id: str, store: str = "familymart") -> dict:
        """The customer pays at ``store``: ``succeeded`` + ``charge.succeeded`` / ``payment_intent.succeeded``."""
        return self._call("POST", f"stripe/payment_intents/{intent_id}/pay", json={"store": store})

    def stripe_expire(self, intent_id: str) -> dict:
        """The voucher expires now, without the grace period: ``payment_intent.payment_failed``."""
        return self._call("POST", f"stripe/payment_intents/{intent_id}/expire", json={})

    def stripe_set_paying(self, intent_id: str, on: bool = True) -> dict:
        """The customer is at the register: cancel is refused and expiry waits."""
        return self._call("POST", f"stripe/payment_intents/{intent_id}/paying", json={"on": on})

    def stripe_tick(self) -> None:
        """Apply time-driven changes (expiry after ``expires_at`` + grace) after ``advance_clock``."""
        self._call("POST", "stripe/tick", json={})

    def stripe_events(self, api_key: str | None = None) -> list[dict]:
        """Every event, oldest first (all accounts unless ``api_key``); also applies pending expiries."""
        return self._call("GET", "stripe/events", params={"api_key": api_key} if api_key else None)

    def stripe_redeliver(self, event_id: str, times: int = 1, *, parallel: bool = False) -> None:
        """Send an event again: ``times`` duplicates in a row, or all at once with ``parallel`` (a burst)."""
        self._call("POST", f"stripe/events/{event_id}/redeliver", json={"times": times, "parallel": parallel})

    def stripe_hold_webhooks(self) -> None:
        """Queue new events instead of delivering them, until ``stripe_release_webhooks``."""
        self._call("POST", "stripe/webhook/hold", json={})

    def stripe_release_webhooks(self, order: str | list[str] = "fifo") -> list[str]:
        """Deliver the held events one by one in ``order`` (fifo / reverse / shuffle / a list of event ids)."""
        return self._call("POST", "stripe/webhook/release", json={"order": order})["released"]

    def stripe_deliveries(self, event_id: str | None = None, *, wait_for: int = 0, timeout: float = 5.0) -> list[dict]:
        """Every delivery attempt (event_id, type, attempt, reason, http_status, answer, ok).

        Deliveries are asynchronous like Stripe's: ``wait_for=n`` polls until at least n attempts are recorded.
        """
        import time

        deadline = time.monotonic() + timeout
        while True:
            attempts = self._call("GET", "stripe/deliveries", params={"event_id": event_id} if event_id else None)
            if len(attempts) >= wait_for or time.monotonic() > deadline:
                return attempts
            time.sleep(0.02)
