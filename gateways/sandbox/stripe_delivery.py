"""Webhook delivery of the Stripe-compatible sandbox: signed JSON POSTs, retries, and the delivery faults
(duplicates, holding + out-of-order release, bursts) that real Stripe produces and receivers must survive.

Signing follows reference §3.3 / §7.2: ``Stripe-Signature: t=<now>,v1=<hex HMAC-SHA256("{t}.{body}")>``
over the exact bytes sent, with a fresh ``t`` on every attempt (localstripe signs with ``event.created``;
that would make retries fail a receiver's tolerance check, so we do not).
"""

import hashlib
import hmac
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from . import SandboxClock

RELEASE_ORDERS = ("fifo", "reverse", "shuffle")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` value for ``body`` (a decoy ``v0`` as in test mode; receivers must ignore it)."""
    mac = hmac.new(secret.encode("utf-8"), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    decoy = hashlib.sha256(body).hexdigest()
    return f"t={timestamp},v1={mac},v0={decoy}"


class WebhookDeliverer:
    """One endpoint (url + ``whsec_`` secret) per sandbox account; every attempt is recorded.

    Deliveries run on daemon threads so the API answer never waits for the receiver (Stripe is async too).
    ``reset`` bumps a generation number so threads of a previous test stop instead of recording stale attempts.
    """

    def __init__(self, clock: SandboxClock, retries: int = 2, interval_seconds: float = 0.5,
                 timeout_seconds: float = 5.0):
        self.clock = clock
        self.defaults = {"retries": retries, "interval_seconds": interval_seconds, "timeout_seconds": timeout_seconds}
        self.on_change: Callable[[], None] | None = None
        self._lock = threading.Lock()
        # The receiver is on loopback in tests; an inherited HTTP(S)_PROXY must not reroute it.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._generation = getattr(self, "_generation", 0) + 1
            self._endpoints: dict[str, dict] = {}  # account (secret key) -> {url, secret, ...}
            self._attempts: list[dict] = []
            self._held: list[tuple[str, dict]] = []  # (account, event) waiting for release
            self._holding = False

    # ---- configuration -----------------------------------------------------------------------------

    def configure(self, account: str, url: str, secret: str = "", **options) -> dict:
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("webhook url must be http(s)")
        if url and not secret.startswith("whsec_"):
            raise ValueError("webhook secret must start with whsec_")
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown webhook options {sorted(unknown)}; allowed: {list(self.defaults)}")
        config = {"url": url, "secret": secret, **{k: v for k, v in options.items() if v is not None}}
        with self._lock:
            if url:
                self._endpoints[account] = config
            else:
                self._endpoints.pop(account, None)
        return self._public(config)

    def config(self) -> dict:
        with self._lock:
            return {"defaults": dict(self.defaults), "holding": self._holding,
                    "held": [event["id"] for _, event in self._held],
                    "endpoints": {acct[:12] + "…": self._public(c) for acct, c in self._endpoints.items()}}

    @staticmethod
    def _public(config: dict) -> dict:
        return {k: ("whsec_…" if k == "secret" and v else v) for k, v in config.items()}

    # ---- delivery ------------------------------------------------------------------------------------

    def send(self, account: str, event: dict) -> None:
        """Deliver a new event, unless deliveries are held (then it waits for ``release``)."""
        with self._lock:
            if account not in self._endpoints:
                return
            if self._holding:
                self._held.append((account, event))
                return
        self._start([(account, event)], reason="initial")

    def hold(self) -> None:
        with self._lock:
            self._holding = True

    def release(self, order: str | list[str] = "fifo") -> list[str]:
        """Stop holding and deliver what was held, one after another in ``order`` (or a list of event ids)."""
        with self._lock:
            held, self._held, self._holding = self._held, [], False
        if isinstance(order, list):
            by_id = {event["id"]: (acct, event) for acct, event in held}
            unknown = [i for i in order if i not in by_id]
            if unknown:
                raise ValueError(f"not held: {unknown}")
            held = [by_id[i] for i in order] + [p for p in held if p[1]["id"] not in order]
        elif order == "reverse":
            held.reverse()
        elif order == "shuffle":
            random.shuffle(held)
        elif order != "fifo":
            raise ValueError(f"order must be a list of event ids or one of {RELEASE_ORDERS}")
        self._start(held, reason="release")
        return [event["id"] for _, event in held]

    def redeliver(self, account: str, event: dict, times: int = 1, parallel: bool = False) -> None:
        """Send an already delivered event again: ``times`` sequential duplicates, or a concurrent burst."""
        if times < 1 or times > 100:
            raise ValueError("times must be 1..100")
        with self._lock:
            if account not in self._endpoints:
                raise ValueError("no webhook endpoint configured for this account")
        if parallel:  # a burst: all copies in flight at once, as when Stripe's retries and a resend collide
            for _ in range(times):
                self._start([(account, event)], reason="burst")
        else:
            self._start([(account, event)] * times, reason="redeliver")

    def attempts(self, event_id: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(a) for a in self._attempts if event_id in (None, a["event_id"])]

    def _start(self, batch: list[tuple[str, dict]], reason: str) -> None:
        generation = self._generation
        threading.Thread(target=self._deliver_batch, args=(generation, batch, reason),
                         name="stripe-webhook", daemon=True).start()

    def _deliver_batch(self, generation: int, batch: list[tuple[str, dict]], reason: str) -> None:
        # Sequential within a batch, so a chosen release order is the order the receiver sees.
        for account, event in batch:
            self._deliver(generation, account, event, reason)

    def _deliver(self, generation: int, account: str, event: dict, reason: str) -> None:
        with self._lock:
            config = self._endpoints.get(account)
        if not config:
            return
        config = {**self.defaults, **config}
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        for attempt in range(1, int(config["retries"]) + 2):
            if attempt > 1:
                time.sleep(float(config["interval_seconds"]))
            if generation != self._generation:
                return
            # Real time, not the sandbox clock: the receiver checks freshness against its own (real) clock.
            timestamp = int(time.time())
            request = urllib.request.Request(config["url"], data=body, method="POST", headers={
                "Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0 (+sandbox)",
                "Stripe-Signature": sign(body, config["secret"], timestamp)})
            status, answer, error = None, "", ""
            try:
                with self._opener.open(request, timeout=float(config["timeout_seconds"])) as response:
                    status, answer = response.status, response.read(1000).decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                status, answer, error = exc.code, exc.read(1000).decode("utf-8", "replace"), f"HTTP {exc.code}"
            except Exception as exc:  # refused, timeout, reset: just a failed attempt
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300  # redirects count as failures (reference §3.5)
            with self._lock:
                if generation != self._generation:
                    return
                self._attempts.append({
                    "seq": len(self._attempts) + 1, "at": self.clock.now().isoformat(timespec="milliseconds"),
                    "event_id": event["id"], "type": event["type"], "url": config["url"], "reason": reason,
                    "attempt": attempt, "signed_at": timestamp, "http_status": status, "answer": answer,
                    "error": error, "ok": ok})
                del self._attempts[:-5000]
            if self.on_change:
                self.on_change()
            if ok:
                return

    # ---- persistence (endpoints only; attempts are a log, held events die with the process) ---------

    def to_state(self) -> dict:
        with self._lock:
            return {"endpoints": {k: dict(v) for k, v in self._endpoints.items()}}

    def load_state(self, state: dict) -> None:
        with self._lock:
            self._endpoints = {k: dict(v) for k, v in state.get("endpoints", {}).items()}
