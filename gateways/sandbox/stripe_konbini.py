"""Stripe-compatible konbini subset: protocol state only (the HTTP side lives in ``server.py``).

Covers what our adapter uses (reference /work/shared/reference/stripe-konbini.md §7.1): PaymentIntents
create (with ``confirm=true``) / confirm / retrieve / cancel, refunds create, events retrieve/list. Data is
partitioned by secret key, so each key is its own Stripe account and another shop's ids answer 404.

Deliberate choices where Stripe is undocumented (reference §8, marked [?] there):

* amount outside 120-300,000 JPY -> 400 ``amount_too_small`` / ``amount_too_large`` with ``param=amount``;
* expiry -> ``requires_payment_method`` with ``last_payment_error.code=payment_intent_payment_attempt_expired``,
  ``grace_seconds`` (default one hour) after ``expires_at``; ``payment_method`` is kept;
* an ordinary email is *never* auto-paid (Stripe test mode pays it after 3 minutes): tests decide with
  ``pay()``, so advancing the clock to provoke an expiry cannot pay the voucher first;
* per-store codes: random digits; all four chains present; one confirmation number shared by the chains.

Time-driven changes (expiry) are applied lazily by ``sweep()``, which the server runs before every Stripe
request and control call: the sandbox clock only moves by control calls, so nothing can be missed.
"""

import copy
import hashlib
import json
import secrets
import string
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from . import JST, SandboxClock
from .stripe_delivery import WebhookDeliverer

DEFAULT_KEYS = ("sk_test_sandbox_shop1", "sk_test_sandbox_shop2")
API_VERSION = "2026-10-28.endive"
STORES = ("familymart", "lawson", "ministop", "seicomart")
MIN_AMOUNT, MAX_AMOUNT = 120, 300_000
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action",
              "processing")
DOC = "https://docs.stripe.com/error-codes/"


class StripeError(Exception):
    """An error answer in Stripe's shape. ``validation`` errors are not stored under an idempotency key."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 type: str = "invalid_request_error", validation: bool = False, **extra):
        super().__init__(message)
        self.status, self.validation = status, validation
        self.error = {"type": type, "code": code, "message": message, "param": param,
                      "doc_url": DOC + code.replace("_", "-") if code else None, **extra}

    def body(self) -> dict:
        return {"error": {k: v for k, v in self.error.items() if v is not None}}


def _invalid(message: str, param: str, code: str = "parameter_invalid_string") -> StripeError:
    return StripeError(400, message, code=code, param=param, validation=True)


def decode_form(pairs: list[tuple[str, str]]) -> dict:
    """Bracket notation as stripe-python sends it: ``a[b][c]=v``, ``a[0]=v``, ``a[]=v`` -> nested dicts/lists."""
    root: dict = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        parts = [head] + (rest[:-1].split("][") if rest else [])
        node = root
        for part, nxt in zip(parts, parts[1:] + [None], strict=True):
            if nxt is None:
                if part == "":
                    node.setdefault("", []).append(value)
                else:
                    node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    if set(node) == {""}:
        return list(node[""])
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def _new_id(prefix: str, n: int = 24) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def _int(params: dict, name: str, label: str | None = None) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):  # "" means "unset" on the wire
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise _invalid(f"Invalid integer: {raw}", label or name, "parameter_invalid_integer") from None


class StripeKonbiniSandbox:
    def __init__(self, clock: SandboxClock, keys: tuple[str, ...] = DEFAULT_KEYS, grace_seconds: float = 3600,
                 base_url: str = ""):
        self.clock, self.grace_seconds, self.base_url = clock, grace_seconds, base_url
        self.default_keys = tuple(keys)
        self.webhooks = WebhookDeliverer(clock)
        self.on_change: Callable[[], None] | None = None
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.keys: set[str] = set(self.default_keys)
            self.intents: dict[str, dict] = {}  # id -> {"account": key, "object": {...}, "pm": {...}}
            self.refunds: dict[str, dict] = {}
            self.events: list[dict] = []  # {"account": key, "event": {...}}, oldest first
            self._idem: dict[tuple[str, str], dict] = {}
        self.webhooks.reset()

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    # ---- entry point used by the HTTP layer -----------------------------------------------------------

    def api(self, op: str, headers: dict[str, str], params: dict, object_id: str = "") -> tuple[int, dict, list]:
        """Run one API operation; returns (http status, JSON body, extra headers)."""
        try:
            account = self._authenticate(headers)
        except StripeError as exc:  # 401 sits in front of the idempotency layer
            return exc.status, exc.body(), []
        key = headers.get("Idempotency-Key") or headers.get("idempotency-key")
        if op.endswith(("retrieve", "list")):
            key = None  # GETs are idempotent by nature; a key has no effect
        fingerprint = hashlib.sha256(json.dumps([op, object_id, params], sort_keys=True).encode()).hexdigest()
        with self._lock:  # one lock: a concurrent request with the same key waits, then replays
            self.sweep()
            if key:
                stored = self._idem.get((account, key))
                if stored and stored["fingerprint"] != fingerprint:
                    exc = StripeError(400, "Keys for idempotent requests can only be used with the same parameters "
                                           f"they were first used with. Try using a key other than '{key}' if you "
                                           "meant to execute a different request.", type="idempotency_error")
                    return exc.status, exc.body(), []
                if stored:
                    return stored["status"], copy.deepcopy(stored["body"]), [("Idempotent-Replayed", "true")]
            try:
                status, body = 200, getattr(self, "_" + op.replace(".", "_"))(account, params, object_id, key)
            except StripeError as exc:
                if exc.validation:
                    return exc.status, exc.body(), []
                status, body = exc.status, exc.body()
            if key:
                self._idem[(account, key)] = {"fingerprint": fingerprint, "status": status,
                                              "body": copy.deepcopy(body)}
        self._changed()
        return status, body, []

    def _authenticate(self, headers: dict[str, str]) -> str:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        if auth.startswith("Basic "):  # curl -u sk_...: sends HTTP Basic
            import base64

            auth = "Bearer " + base64.b64decode(auth[6:]).decode("utf-8", "replace").rstrip(":")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if not key:
            raise StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                                   "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_"
                                   "SECRET_KEY').")
        if key not in self.keys:
            masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "****"
            raise StripeError(401, f"Invalid API Key provided: {masked}", code="api_key_invalid")
        return key

    # ---- payment intents ------------------------------------------------------------------------------

    def _payment_intents_create(self, account: str, params: dict, _id: str, key: str | None) -> dict:
        amount = _int(params, "amount")
        if amount is None:
            raise _invalid("Missing required param: amount.", "amount", "parameter_missing")
        currency = (params.get("currency") or "").lower()
        if not currency:
            raise _invalid("Missing required param: currency.", "currency", "parameter_missing")
        # 16.x sends allowed_payment_method_types; older SDKs payment_method_types (reference, API version note).
        types_param = "allowed_payment_method_types" if "allowed_payment_method_types" in params \
            else "payment_method_types"
        types = params.get(types_param) or ["konbini"]
        if not isinstance(types, list) or types != ["konbini"]:
            raise _invalid(f"This sandbox only supports konbini; got {types!r}.", types_param,
                           "payment_intent_invalid_parameter")
        if currency != "jpy":
            raise _invalid(f"The currency provided ({currency}) is invalid for konbini; only jpy is supported.",
                           "currency", "payment_intent_invalid_parameter")
        if amount < MIN_AMOUNT:
            raise _invalid(f"Amount must be at least ¥{MIN_AMOUNT} jpy for konbini.", "amount", "amount_too_small")
        if amount > MAX_AMOUNT:
            raise _invalid(f"Amount must be no more than ¥{MAX_AMOUNT:,} jpy for konbini.", "amount",
                           "amount_too_large")
        options = self._konbini_options(params, {})
        pm = self._payment_method(params, required=params.get("confirm") == "true")
        created = self.now()
        pi_id = _new_id("pi_")
        intent = {
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0, "canceled_at": None, "cancellation_reason": None, "capture_method": "automatic",
            "client_secret": f"{pi_id}_secret_{_new_id('', 25)}", "confirmation_method": "automatic",
            "created": created, "currency": "jpy", "customer": params.get("customer") or None,
            "description": params.get("description") or None, "last_payment_error": None, "latest_charge": None,
            "livemode": False, "metadata": params.get("metadata") or {}, "next_action": None,
            "payment_method": pm["id"] if pm else None, "payment_method_options": {"konbini": options},
            "payment_method_types": ["konbini"], "receipt_email": params.get("receipt_email") or None,
            "status": "requires_confirmation" if pm else "requires_payment_method",
        }
        record = {"account": account, "object": intent, "pm": pm, "paying": False}
        self.intents[pi_id] = record
        self._emit(account, "payment_intent.created", intent, key)
        if params.get("confirm") == "true":
            self._confirm(record, params, key)
        return copy.deepcopy(intent)

    def _payment_intents_confirm(self, account: str, params: dict, pi_id: str, key: str | None) -> dict:
        record = self._intent(account, pi_id)
        status = record["object"]["status"]
        if status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise self._unexpected_state(record, "confirm")
        # validation before any change, so a refused confirm leaves the intent as it was
        record["object"]["payment_method_options"]["konbini"] = self._konbini_options(
            params, record["object"]["payment_method_options"]["konbini"])
        pm = self._payment_method(params, required=record["pm"] is None) or record["pm"]
        record["pm"], record["object"]["payment_method"] = pm, pm["id"]
        self._confirm(record, params, key)
        return copy.deepcopy(record["object"])

    def _confirm(self, record: dict, params: dict, key: str | None) -> None:
        """Issue a voucher. Re-confirming issues new numbers and a new URL; the old ones die (reference §2.3)."""
        intent, pm = record["object"], record["pm"]
        if pm is None:
            raise _invalid("You must provide a payment method to confirm this PaymentIntent.",
                           "payment_method", "parameter_missing")
        options = intent["payment_method_options"]["konbini"]
        confirmation = options.get("confirmation_number")
        if confirmation == "01234567890":  # the documented test value for a refused number
            raise StripeError(400, "The confirmation number was rejected by the konbini processing partner.",
                              code="payment_intent_konbini_rejected_confirmation_number",
                              param="payment_method_options[konbini][confirmation_number]",
                              payment_intent=copy.deepcopy(intent))
        now = self.clock.now()
        if options.get("expires_at"):
            expires_at = int(options["expires_at"])
        else:  # JST calendar day + N, 23:59:59 (Monday + 2 -> Wednesday 23:59:59 JST)
            days = int(options.get("expires_after_days") or 3)
            base = now if options.get("expires_after_days") else datetime.fromtimestamp(intent["created"], JST)
            last_day = base.astimezone(JST).date() + timedelta(days=days)
            expires_at = int(datetime(last_day.year, last_day.month, last_day.day, 23, 59, 59, tzinfo=JST)
                             .timestamp())
        # Test-mode magic: the email's local part or a documented confirmation number.
        local_part = pm["billing_details"]["email"].split("@")[0]
        expire_now = local_part.endswith("expire_immediately") or confirmation == "33333333330"
        if expire_now:
            expires_at = int(now.timestamp())
        number = confirmation or _digits(11)
        stores = {store: {"confirmation_number": number, "payment_code": _digits(6)} for store in STORES}
        voucher = secrets.token_urlsafe(12)
        intent.update(status="requires_action", last_payment_error=None, next_action={
            "type": "konbini_display_details", "konbini_display_details": {
                "expires_at": expires_at, "stores": stores,
                "hosted_voucher_url": f"{self.base_url}/_sandbox/stripe/vouchers/{intent['id']}/{voucher}"}})
        record["voucher"] = voucher
        self._emit(record["account"], "payment_intent.requires_action", intent, key)
        if local_part.endswith("succeed_immediately") or confirmation == "22222222220":
            self._pay(record, "familymart")
        elif expire_now:  # expires_at is now, so the voucher is already past its deadline
            self._fail(record)

    def _payment_intents_retrieve(self, account: str, params: dict, pi_id: str, key: str | None) -> dict:
        return copy.deepcopy(self._intent(account, pi_id)["object"])

    def _payment_intents_cancel(self, account: str, params: dict, pi_id: str, key: str | None) -> dict:
        record = self._intent(account, pi_id)
        intent = record["object"]
        reason = params.get("cancellation_reason") or None
        if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
            raise _invalid(f"Invalid cancellation_reason: {reason}", "cancellation_reason")
        if intent["status"] not in CANCELABLE:
            raise self._unexpected_state(record, "cancel")
        if record["paying"]:  # customer at the register (reference §2.7; real error shape unknown [?])
            raise StripeError(400, "This PaymentIntent cannot be canceled while the customer is completing the "
                                   "payment at the store. Try again later.", code="payment_intent_unexpected_state",
                              payment_intent=copy.deepcopy(intent))
        intent.update(status="canceled", canceled_at=self.now(), cancellation_reason=reason, next_action=None)
        self._emit(account, "payment_intent.canceled", intent, key)
        return copy.deepcopy(intent)

    # ---- refunds ---------------------------------------------------------------------------------------

    def _refunds_create(self, account: str, params: dict, _id: str, key: str | None) -> dict:
        pi_id = params.get("payment_intent") or ""
        if not pi_id:
            raise _invalid("Missing required param: payment_intent.", "payment_intent", "parameter_missing")
        record = self._intent(account, pi_id, param="payment_intent")
        intent = record["object"]
        if intent["status"] != "succeeded":
            raise StripeError(400, f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                              code="charge_not_refundable", param="payment_intent")
        refunded = sum(r["amount"] for r in self.refunds.values()
                       if r["payment_intent"] == pi_id and r["status"] not in ("failed", "canceled"))
        amount = _int(params, "amount")
        amount = intent["amount_received"] - refunded if amount is None else amount
        if amount <= 0 or amount > intent["amount_received"] - refunded:
            raise _invalid(f"Refund amount (¥{amount}) is greater than unrefunded amount on charge "
                           f"(¥{intent['amount_received'] - refunded})", "amount", "amount_too_large")
        email = params.get("instructions_email") or record["pm"]["billing_details"]["email"]
        refund = {"id": _new_id("re_"), "object": "refund", "amount": amount, "charge": intent["latest_charge"],
                  "created": self.now(), "currency": "jpy", "metadata": params.get("metadata") or {},
                  "payment_intent": pi_id, "reason": params.get("reason") or None,
                  "instructions_email": params.get("instructions_email") or None,
                  # konbini refunds wait for the customer's bank details (reference §2.9)
                  "status": "requires_action", "next_action": {"type": "display_details", "display_details": {
                      "email_sent": {"email_sent_at": self.now(), "email_sent_to": email},
                      "expires_at": self.now() + 45 * 86400}}}
        self.refunds[refund["id"]] = refund
        self._emit(account, "refund.created", refund, key)
        return copy.deepcopy(refund)

    # ---- events ----------------------------------------------------------------------------------------

    def _events_retrieve(self, account: str, params: dict, evt_id: str, key: str | None) -> dict:
        for item in self.events:
            if item["account"] == account and item["event"]["id"] == evt_id:
                return copy.deepcopy(item["event"])
        raise StripeError(404, f"No such event: '{evt_id}'", code="resource_missing", param="id")

    def _events_list(self, account: str, params: dict, _id: str, key: str | None) -> dict:
        events = [i["event"] for i in reversed(self.events) if i["account"] == account]  # newest first
        types = params.get("types") or ([params["type"]] if params.get("type") else None)
        if types:
            events = [e for e in events if any(e["type"] == t or (t.endswith("*") and e["type"].startswith(t[:-1]))
                                               for t in types)]
        created = params.get("created")
        if isinstance(created, dict):
            tests = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
            for op, value in created.items():
                if op in tests:
                    events = [e for e in events if tests[op](e["created"], int(value))]
        elif created:
            events = [e for e in events if e["created"] == int(created)]
        if params.get("starting_after"):
            ids = [e["id"] for e in events]
            if params["starting_after"] not in ids:
                raise StripeError(404, f"No such event: '{params['starting_after']}'", code="resource_missing",
                                  param="starting_after")
            events = events[ids.index(params["starting_after"]) + 1:]
        limit = min(max(_int(params, "limit") or 10, 1), 100)
        return {"object": "list", "url": "/v1/events", "has_more": len(events) > limit,
                "data": copy.deepcopy(events[:limit])}

    # ---- sandbox controls (the customer at the store, time passing) -------------------------------------

    def pay(self, pi_id: str, store: str = "familymart") -> dict:
        if store not in STORES:
            raise ValueError(f"store must be one of {STORES}")
        with self._lock:
            self.sweep()
            record = self._control_intent(pi_id)
            if record["object"]["status"] != "requires_action":
                raise ValueError(f"cannot pay a PaymentIntent in status {record['object']['status']}")
            self._pay(record, store)
        self._changed()
        return copy.deepcopy(record["object"])

    def expire(self, pi_id: str) -> dict:
        """The voucher expires now and Stripe gives up at once (no grace period)."""
        with self._lock:
            record = self._control_intent(pi_id)
            if record["object"]["status"] != "requires_action":
                raise ValueError(f"cannot expire a PaymentIntent in status {record['object']['status']}")
            self._fail(record)
        self._changed()
        return copy.deepcopy(record["object"])

    def set_paying(self, pi_id: str, on: bool) -> dict:
        """The customer is at the register: cancel fails and expiry waits until ``on`` is cleared."""
        with self._lock:
            record = self._control_intent(pi_id)
            record["paying"] = bool(on)
            return copy.deepcopy(record["object"])

    def sweep(self) -> None:
        """Fail vouchers whose deadline + grace has passed on the sandbox clock (reference §2.6)."""
        with self._lock:
            now = self.now()
            for record in list(self.intents.values()):
                intent = record["object"]
                if intent["status"] == "requires_action" and not record["paying"]:
                    deadline = intent["next_action"]["konbini_display_details"]["expires_at"]
                    if now >= deadline + self.grace_seconds:
                        self._fail(record)

    def intent(self, pi_id: str) -> dict | None:
        with self._lock:
            record = self.intents.get(pi_id)
            return copy.deepcopy(record["object"]) if record else None

    def voucher(self, pi_id: str, voucher: str) -> dict | None:
        with self._lock:
            record = self.intents.get(pi_id)
            if not record or record.get("voucher") != voucher or record["object"]["status"] != "requires_action":
                return None  # a re-confirm or a final status kills the old voucher URL
            return copy.deepcopy(record["object"])

    def event_list(self, account: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(i["event"]) for i in self.events if account in (None, i["account"])]

    def redeliver(self, evt_id: str, times: int = 1, parallel: bool = False) -> None:
        with self._lock:
            found = [i for i in self.events if i["event"]["id"] == evt_id]
        if not found:
            raise ValueError(f"no event {evt_id}")
        self.webhooks.redeliver(found[0]["account"], found[0]["event"], times, parallel)

    def _pay(self, record: dict, store: str) -> None:
        intent = record["object"]
        charge = {"id": _new_id("ch_"), "object": "charge", "amount": intent["amount"], "currency": "jpy",
                  "paid": True, "status": "succeeded", "payment_intent": intent["id"], "created": self.now(),
                  "payment_method": intent["payment_method"],
                  "payment_method_details": {"type": "konbini", "konbini": {"store": {"chain": store}}}}
        intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge["id"],
                      next_action=None)
        self._emit(record["account"], "charge.succeeded", charge, None)
        self._emit(record["account"], "payment_intent.succeeded", intent, None)

    def _fail(self, record: dict) -> None:
        intent = record["object"]
        intent.update(status="requires_payment_method", next_action=None, last_payment_error={
            "type": "invalid_request_error", "code": "payment_intent_payment_attempt_expired",
            "message": "The payment attempt for this PaymentIntent has expired.",
            "payment_method": {"id": intent["payment_method"], "object": "payment_method", "type": "konbini"}})
        self._emit(record["account"], "payment_intent.payment_failed", intent, None)

    # ---- helpers ---------------------------------------------------------------------------------------

    def _intent(self, account: str, pi_id: str, param: str = "intent") -> dict:
        record = self.intents.get(pi_id)
        if not record or record["account"] != account:  # another account's id is simply unknown
            raise StripeError(404, f"No such payment_intent: '{pi_id}'", code="resource_missing", param=param)
        return record

    def _control_intent(self, pi_id: str) -> dict:
        record = self.intents.get(pi_id)
        if not record:
            raise LookupError(f"no PaymentIntent {pi_id}")
        return record

    @staticmethod
    def _unexpected_state(record: dict, action: str) -> StripeError:
        status = record["object"]["status"]
        if action == "cancel":
            allowed, done = ", ".join(CANCELABLE), "canceled"
        else:
            allowed, done = "requires_payment_method, requires_confirmation, requires_action", "confirmed"
        return StripeError(400, f"You cannot {action} this PaymentIntent because it has a status of {status}. "
                                f"Only a PaymentIntent with one of the following statuses may be {done}: {allowed}.",
                           code="payment_intent_unexpected_state", payment_intent=copy.deepcopy(record["object"]))

    def _konbini_options(self, params: dict, current: dict) -> dict:
        given = ((params.get("payment_method_options") or {}).get("konbini")) or {}
        prefix = "payment_method_options[konbini]"
        merged = {"confirmation_number": None, "expires_after_days": None, "expires_at": None,
                  "product_description": None, **current}
        days = _int(given, "expires_after_days", f"{prefix}[expires_after_days]")
        expires_at = _int(given, "expires_at", f"{prefix}[expires_at]")
        if days is not None and expires_at is not None:
            raise _invalid("You may only specify one of these parameters: expires_after_days, expires_at.",
                           f"{prefix}[expires_after_days]", "parameters_exclusive")
        if days is not None:
            if not 1 <= days <= 60:
                raise _invalid("expires_after_days must be between 1 and 60.", f"{prefix}[expires_after_days]",
                               "parameter_invalid_integer")
            merged.update(expires_after_days=days, expires_at=None)
        if expires_at is not None:
            if not self.now() + 1800 < expires_at < self.now() + 60 * 86400:
                raise _invalid("expires_at must be more than 30 minutes and less than 60 days in the future.",
                               f"{prefix}[expires_at]", "parameter_invalid_integer")
            merged.update(expires_at=expires_at, expires_after_days=None)
        description = given.get("product_description")
        if description:
            try:
                description.encode("shift_jis")
            except UnicodeEncodeError:
                raise _invalid("product_description contains characters outside Shift_JIS.",
                               f"{prefix}[product_description]") from None
            if len(description) > 22:
                raise _invalid("product_description must be at most 22 characters.",
                               f"{prefix}[product_description]")
            merged["product_description"] = description
        number = given.get("confirmation_number")
        if number:
            if not (number.isdigit() and 10 <= len(number) <= 11) or set(number) == {"0"}:
                raise _invalid("confirmation_number must be 10 to 11 digits and not all zeros.",
                               f"{prefix}[confirmation_number]")
            merged["confirmation_number"] = number
        return merged

    @staticmethod
    def _payment_method(params: dict, required: bool) -> dict | None:
        data = params.get("payment_method_data")
        if not data:
            if required:  # checked before anything is created, so a bad create+confirm leaves no intent
                raise _invalid("You must provide payment_method_data to confirm this PaymentIntent.",
                               "payment_method_data", "parameter_missing")
            return None
        if data.get("type") != "konbini":
            raise _invalid("payment_method_data[type] must be konbini in this sandbox.", "payment_method_data[type]")
        billing = data.get("billing_details") or {}
        for field in ("name", "email"):
            if not billing.get(field):  # konbini requires both at server-side confirmation (reference §2.3)
                raise _invalid(f"Missing required param: payment_method_data[billing_details][{field}].",
                               f"payment_method_data[billing_details][{field}]", "parameter_missing")
        return {"id": _new_id("pm_"), "object": "payment_method", "type": "konbini", "konbini": {},
                "billing_details": {"name": billing["name"], "email": billing["email"],
                                    "phone": billing.get("phone") or None, "address": None}}

    def _emit(self, account: str, type: str, obj: dict, key: str | None) -> None:
        event = {"id": _new_id("evt_"), "object": "event", "api_version": API_VERSION, "created": self.now(),
                 "data": {"object": copy.deepcopy(obj)}, "livemode": False, "pending_webhooks": 1,
                 "request": {"id": _new_id("req_", 14) if key else None, "idempotency_key": key}, "type": type}
        self.events.append({"account": account, "event": event})
        self.webhooks.send(account, event)

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    # ---- persistence -----------------------------------------------------------------------------------

    def to_state(self) -> dict:
        with self._lock:
            return copy.deepcopy({"keys": sorted(self.keys), "intents": self.intents, "refunds": self.refunds,
                                  "events": self.events, "webhooks": self.webhooks.to_state()})

    def load_state(self, state: dict) -> None:
        with self._lock:
            self.keys = set(state.get("keys", self.default_keys))
            self.intents = copy.deepcopy(state.get("intents", {}))
            self.refunds = copy.deepcopy(state.get("refunds", {}))
            self.events = copy.deepcopy(state.get("events", []))
        self.webhooks.load_state(state.get("webhooks", {}))
