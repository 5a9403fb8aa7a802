"""Stripe webhook signature verification (reference §3.3), done with hmac so the rules are visible here.

``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...][,v0=...]``; v1 = HMAC-SHA256(secret, f"{t}.{raw body}").
Only v1 counts (downgrade protection), any matching v1 is accepted (secret rolling), and the age check is
one-sided like Stripe's libraries: only ``t < now - tolerance`` fails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time


class WebhookError(ValueError):
    """Base: the request must be answered 400 and nothing changed."""


class MissingSignature(WebhookError):
    pass


class BadSignature(WebhookError):
    pass


class StaleTimestamp(WebhookError):
    pass


class MalformedPayload(WebhookError):
    pass


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The v1 hex digest Stripe would send for ``payload`` at ``timestamp``."""
    return hmac.new(secret.encode("utf-8"), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()


def verify(payload: bytes | str, header: str | None, secret: str, tolerance: int = 300,
           now: float | None = None) -> dict:
    """Check the signature of the *raw* body and return the event as a dict.

    Raises MissingSignature / BadSignature / StaleTimestamp / MalformedPayload (all ``WebhookError``).
    ``tolerance=0`` disables the age check (discouraged; for replaying stored bodies only).
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if not header:
        raise MissingSignature("no Stripe-Signature header")
    if not secret:
        raise BadSignature("no webhook secret configured")
    timestamp, candidates = None, []
    for item in header.split(","):
        key, _, value = item.partition("=")  # no strip: Stripe sends no spaces, and neither do its libraries
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature("timestamp in Stripe-Signature is not an integer") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature("Stripe-Signature has no timestamp or no v1 signature")
    expected = signature(payload, secret, timestamp)
    # compare_digest against every candidate: constant time, and no early exit revealing which one matched
    if not any([hmac.compare_digest(expected, candidate) for candidate in candidates]):
        raise BadSignature("no v1 signature matches the payload")
    current = time.time() if now is None else now
    if tolerance and timestamp < current - tolerance:
        raise StaleTimestamp(f"signature timestamp is {int(current - timestamp)} s old (tolerance {tolerance} s)")
    try:
        event = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload(f"body is not JSON: {exc}") from None
    if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id") or not event.get("type"):
        raise MalformedPayload("body is not a Stripe event")
    return event
