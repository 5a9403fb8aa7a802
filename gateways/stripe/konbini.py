"""Stripe konbini adapter: issue a voucher (create + confirm in one call), read, cancel, refund.

Plain values in, typed results out, exceptions in the vocabulary of ``gateways.base``; no Django here.
Reference: /work/shared/reference/stripe-konbini.md (§2 lifecycle, §5 errors, §6 SDK configuration).
The secret key is only handed to the SDK; it is never logged nor kept in results or exception messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
import stripe

from gateways.base import (
    Capabilities,
    GatewayError,
    GatewayErrorDetail,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    GatewayRefused,
    TransactionNotFound,
)
from gateways.gmo.protocol import _never_connected  # the GMO client's "nothing was sent" rule, shared

logger = logging.getLogger(__name__)
# Not gateways.sandbox.JST: production code never imports the sandbox package.
JST = ZoneInfo("Asia/Tokyo")

# The API version stripe 16.1.0 is generated for; sent explicitly so the params we build (e.g.
# ``allowed_payment_method_types``) always match the version that reads them.
API_VERSION = "2026-10-28.endive"
MIN_AMOUNT, MAX_AMOUNT = 120, 300_000  # konbini limits in JPY (reference §1)
STORES = ("familymart", "lawson", "ministop", "seicomart")


class AmountOutOfRange(GatewayError, ValueError):
    """Refused locally, before any HTTP call: konbini takes 120-300,000 JPY only."""


class InvalidKonbiniRequest(GatewayError, ValueError):
    """Other local checks (expiry days, missing name/email) that Stripe would refuse anyway."""


@dataclass(frozen=True)
class StoreCode:
    payment_code: str  # 支払い番号 at this chain
    confirmation_number: str | None  # 確認番号 (null for some chains, reference §8)


@dataclass(frozen=True)
class KonbiniPayment:
    """A konbini PaymentIntent as the product needs it."""

    intent_id: str
    status: str  # Stripe's own word: requires_action / succeeded / requires_payment_method / canceled ...
    amount: int
    expires_at: datetime | None = None  # voucher deadline (JST); never a reason on its own to call it expired
    hosted_voucher_url: str | None = None
    stores: dict[str, StoreCode] = field(default_factory=dict)
    last_error_code: str | None = None
    paid_at_store: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def product_status(self) -> str:
        """Spec §3.3 status words; "expired" only when Stripe reported the failed attempt (reference §2.12)."""
        if self.status == "requires_action":
            return "awaiting_payment"
        if self.status == "succeeded":
            return "paid"
        if self.status == "canceled":
            return "cancelled"
        if self.status == "requires_payment_method" and self.last_error_code:
            return "expired"
        return "awaiting_approval"


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str  # konbini refunds start in requires_action (the customer gives bank details by email)
    amount: int
    intent_id: str
    raw: dict = field(default_factory=dict, repr=False, compare=False)


class StripeKonbiniGateway:
    name = "stripe_konbini"
    # void: a pending voucher can be canceled. search: retrieve by id. Refunds exist at Stripe, but the product
    # spec (§3.3) records cancellations after payment as manual refund tasks, so core must not plan on them.
    capabilities = Capabilities(void=True, search=True)

    def __init__(self, api_key: str, base_url: str = "https://api.stripe.com", timeout: float = 10.0,
                 max_network_retries: int = 2, api_version: str = API_VERSION):
        base_url = base_url.rstrip("/")  # the SDK concatenates verbatim: a trailing slash makes "//v1/..."
        session = requests.Session()
        if urlsplit(base_url).hostname in ("127.0.0.1", "localhost", "::1"):
            session.trust_env = False  # an inherited HTTP(S)_PROXY must not capture the local sandbox
        # One client per shop key, created once: the RequestsClient keeps connections alive. Retries reuse the
        # same Idempotency-Key, so they are safe; the count is explicit because StripeClient's default is none.
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": base_url}, stripe_version=api_version,
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=(min(5.0, timeout), timeout), session=session))

    def __repr__(self) -> str:  # never show the key, even in a debugger or a traceback's locals
        return f"<{type(self).__name__}>"

    # ---- operations ------------------------------------------------------------------------------

    def create_voucher(self, amount: int, customer_name: str, customer_email: str, expires_after_days: int = 3, *,
                       product_description: str | None = None, metadata: dict[str, str] | None = None,
                       idempotency_key: str | None = None) -> KonbiniPayment:
        """Create and confirm in one call: the answer carries the per-store numbers and the deadline.

        Pass ``idempotency_key`` derived from the ledger row so a retry after an unknown outcome cannot issue
        a second voucher (reference §4).
        """
        check_amount(amount)
        if not 1 <= int(expires_after_days) <= 60:
            raise InvalidKonbiniRequest("expires_after_days must be 1..60")
        if not customer_name or not customer_email:
            raise InvalidKonbiniRequest("konbini needs the customer's name and email at confirmation")
        konbini: dict = {"expires_after_days": int(expires_after_days)}
        if product_description:
            konbini["product_description"] = shown_at_store(product_description)
        params = {
            "amount": amount, "currency": "jpy", "confirm": True,
            "allowed_payment_method_types": ["konbini"],  # 16.x name; the response says payment_method_types
            "payment_method_options": {"konbini": konbini},
            "payment_method_data": {"type": "konbini",
                                    "billing_details": {"name": customer_name, "email": customer_email}},
            "metadata": dict(metadata or {}),
        }
        intent = self._call("create", lambda: self._client.v1.payment_intents.create(
            params=params, options=_options(idempotency_key)))
        return to_payment(intent)

    def retrieve(self, intent_id: str) -> KonbiniPayment:
        return to_payment(self._call("retrieve", lambda: self._client.v1.payment_intents.retrieve(intent_id)))

    def cancel(self, intent_id: str, reason: str | None = None, idempotency_key: str | None = None) -> KonbiniPayment:
        """Cancel a voucher. Refused (GatewayRefused, payment_intent_unexpected_state) once paid or canceled,
        and while the customer is paying at the register: keep awaiting_payment and retry later."""
        params = {"cancellation_reason": reason} if reason else {}
        return to_payment(self._call("cancel", lambda: self._client.v1.payment_intents.cancel(
            intent_id, params=params, options=_options(idempotency_key))))

    def find_created(self, event_type: str, ledger_key: str, since: int) -> dict | None:
        """The object that a request carrying ``metadata[ledger_key]`` created, read from Stripe's event log.

        How a create whose answer was lost is settled: by asking Stripe what exists, never by sending it again.
        ``since``: Unix seconds a little before the request went out.
        """
        params: dict = {"type": event_type, "created": {"gte": int(since)}, "limit": 100}
        while True:
            page = _as_dict(self._call("events", lambda p=params: self._client.v1.events.list(params=p)))
            for event in page.get("data") or []:
                obj = _as_dict(event).get("data", {}).get("object") or {}
                if (obj.get("metadata") or {}).get("ledger_key") == ledger_key:
                    return obj
            if not page.get("has_more") or not page.get("data"):
                return None
            params = {**params, "starting_after": _as_dict(page["data"][-1])["id"]}

    def refund(self, intent_id: str, amount: int | None = None, idempotency_key: str | None = None,
               metadata: dict[str, str] | None = None) -> RefundResult:
        params: dict = {"payment_intent": intent_id, "metadata": dict(metadata or {})}
        if amount is not None:
            params["amount"] = amount
        refund = _as_dict(self._call("refund", lambda: self._client.v1.refunds.create(
            params=params, options=_options(idempotency_key))))
        return RefundResult(refund["id"], refund["status"], refund["amount"], refund["payment_intent"], refund)

    # ---- error mapping -------------------------------------------------------------------------------

    def _call(self, op: str, send):
        try:
            result = send()
        except stripe.APIConnectionError as exc:
            cause = exc.__cause__
            if isinstance(cause, requests.exceptions.ConnectTimeout) or (
                    isinstance(cause, requests.exceptions.ConnectionError) and _never_connected(cause)):
                raise GatewayNotSent(f"stripe {op}: could not connect") from exc
            raise GatewayOutcomeUnknown(f"stripe {op}: connection lost or timed out") from exc
        except stripe.InvalidRequestError as exc:
            if exc.code == "resource_missing":
                raise TransactionNotFound(f"stripe {op}: {exc.user_message}") from exc
            raise _refused(op, exc) from exc
        except (stripe.AuthenticationError, stripe.PermissionError, stripe.CardError, stripe.IdempotencyError,
                stripe.RateLimitError) as exc:
            # Answered and not applied: 401/403 and 429 sit in front of execution, 402/idempotency refuse it.
            raise _refused(op, exc) from exc
        except stripe.StripeError as exc:
            # 5xx / 409 (key in use) / garbled answer: the request may have run; resolve by retrieve.
            raise GatewayOutcomeUnknown(f"stripe {op}: HTTP {exc.http_status} {_code(exc)}") from exc
        logger.info("stripe konbini %s ok %s", op, getattr(result, "id", ""))
        return result


def check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise AmountOutOfRange(f"amount must be an integer number of yen, got {amount!r}")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise AmountOutOfRange(f"konbini accepts {MIN_AMOUNT:,}-{MAX_AMOUNT:,} JPY; got {amount:,} JPY")


def shown_at_store(text: str) -> str:
    """Stripe's product description: at most 22 characters, all of them Shift_JIS (others are an error)."""
    kept = "".join(ch for ch in text if _sjis(ch))
    return kept[:22]


def _sjis(ch: str) -> bool:
    try:
        ch.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return True


def to_payment(intent) -> KonbiniPayment:
    data = _as_dict(intent)
    details = ((data.get("next_action") or {}).get("konbini_display_details")) or {}
    stores = {name: StoreCode(s["payment_code"], s.get("confirmation_number"))
              for name, s in (details.get("stores") or {}).items() if s}
    expires = details.get("expires_at")
    error = data.get("last_payment_error") or {}
    charge = data.get("latest_charge")
    chain = None
    if isinstance(charge, dict):  # only when retrieved with expand=["latest_charge"]
        chain = (((charge.get("payment_method_details") or {}).get("konbini") or {}).get("store") or {}).get("chain")
    return KonbiniPayment(
        intent_id=data["id"], status=data["status"], amount=data["amount"],
        expires_at=datetime.fromtimestamp(expires, JST) if expires else None,
        hosted_voucher_url=details.get("hosted_voucher_url"), stores=stores,
        last_error_code=error.get("code"), paid_at_store=chain, raw=data)


def _options(idempotency_key: str | None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


def _as_dict(obj) -> dict:
    # StripeObject is no longer a dict since 15.0 (reference §6.2)
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _code(exc: stripe.StripeError) -> str:
    error = exc.error
    return (getattr(error, "code", None) or getattr(error, "type", None) or "") if error else ""


def _refused(op: str, exc: stripe.StripeError) -> GatewayRefused:
    error = exc.error
    kind = (getattr(error, "type", None) if error else None) or type(exc).__name__
    code = _code(exc) or kind
    logger.info("stripe konbini %s refused: HTTP %s %s", op, exc.http_status, code)
    message = f"stripe {op}: {code}: {exc.user_message or ''}"
    return GatewayRefused([GatewayErrorDetail(code=kind, info=code)], message)

