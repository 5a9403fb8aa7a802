"""GMO-PG redirect wallets sandbox ("protocol type"): protocol rules and remembered state, no HTTP server.

Generic over wallet kinds: one ``WalletKind`` row per wallet (PayType, API names, answer key orders,
wallet-specific keys). Only Recruit かんたん支払い (PayType 24) is implemented and tested; another wallet of
the same shape (reference §3.6, e.g. Rakuten Pay 18) is a new row plus whatever rules differ.

Flow (reference §3.1): EntryTran{X} -> ExecTran{X} (Token + StartURL) -> the browser POSTs AccessID + Token
to StartURL ({X}Start.idPass) and sees a fake consent page (approve / back / fail) -> the browser is sent
back to RetURL and the shop's result-notification URL is called (§5) -> Sales / Cancel / Change /
UpdateAuth -> SearchTradeMulti with the wallet's PayType.

Nothing here was checked against GMO: statuses, windows and most codes are assumptions marked "[?]", as in
/work/shared/reference/gmo-pg-protocol.md. Error codes come from the M01 table of reference §4.3 (the RB
table), whose meanings fit; which one GMO really sends for Recruit is [?] throughout.
"""

import base64
import calendar
import hashlib
import html
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

from . import JST, SandboxClock, form_fields
from .gmo_card import MULTI_EMPTY_KEYS, Errors, JsonRecord, Reject, digits, error_pairs, gmo_time, parse_time

# Logical state -> status word answered by SearchTradeMulti (reference §3.3; every word [?]). Configurable.
DEFAULT_STATUS_WORDS = {
    "unprocessed": "UNPROCESSED",  # after EntryTran{X}
    "requested": "REQSUCCESS",  # after ExecTran{X}: token issued, browser not there yet
    "in_progress": "AUTHPROCESS",  # browser reached {X}Start (our 要確認 if it stays here)
    "authorized": "AUTH",  # approved, JobCd AUTH
    "captured_immediately": "CAPTURE",  # approved, JobCd CAPTURE
    "captured": "SALES",  # after {X}Sales
    "cancelled": "CANCEL",  # after {X}Cancel
    "failed": "PAYFAIL",  # buyer failed / declined, or the start deadline passed
    "expired": "EXPIRED",  # authorization validity passed without capture
}
# Role -> states it may start from. [?] (seed 002 + reference §3.2; GMO's own matrix is unknown)
ALLOWED_FROM = {
    "sales": ("authorized",),
    "cancel": ("authorized", "captured_immediately", "captured", "in_progress", "requested"),
    "change": ("authorized", "captured_immediately", "captured"),
    "update_auth": ("authorized",),
}
CAPTURED = ("captured_immediately", "captured")
MAX_TOTAL = 9_999_999  # Amount + Tax, 7 digits like cards [?]
MAX_URL = 256  # RetURL length limit [?]
MAX_ITEM_NAME_BYTES = 64  # ItemName limit in cp932 bytes [?]
DEADLINE_PASSED = "M01089010"  # 処理要求実施最終期限を超えています: start deadline passed [?]
BUYER_FAILED = "M91099999"  # 決済処理に失敗しました: what RetURL/notification carry when the buyer fails [?]
BAD_TOKEN = "M01074090"  # トークンが不正です: StartURL posted with an unknown AccessID/Token [?]
MASKED_SHOP_PASS, MASKED_ACCESS_PASS = "*" * 10, "*" * 32  # notification masking (reference §5)
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
# Non-card (M01) codes [?]: never 0 yen.
ORDER_ID_CODES = form_fields.OrderIdCodes(missing="M01004001", too_long="M01004012", bad_chars="M01004013")
AMOUNT_CODES = form_fields.AmountCodes(missing="M01005001", not_numeric="M01005006", too_long="M01005005",
                                       below_one="M01005011")
TAX_CODES = form_fields.TaxCodes(not_numeric="M01006006", too_long="M01006005")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class WalletKind:
    """One redirect wallet: its PayType, API names by role and the key order of each answer."""

    name: str
    pay_type: str
    label: tuple[str, str]  # (Japanese, English) for the consent page
    apis: dict[str, str]  # role -> API name; roles: entry exec start sales cancel change update_auth
    replies: dict[str, tuple[str, ...]]  # role -> answer keys, in order
    extra_keys: dict[str, str]  # wallet-specific key -> WalletTransaction attribute ("" = always empty)
    return_keys: tuple[str, ...]  # wallet keys added to the RetURL return and the notification [?]


RECRUIT = WalletKind(
    name="recruit", pay_type="24", label=("リクルートかんたん支払い", "Recruit Easy Pay"),
    apis={"entry": "EntryTranRecruit", "exec": "ExecTranRecruit", "start": "RecruitStart",
          "sales": "RecruitSales", "cancel": "RecruitCancel", "change": "RecruitChange",
          "update_auth": "RecruitUpdateAuth"},
    replies={  # reference §3.2 (SDK output classes)
        "entry": ("OrderID", "AccessID", "AccessPass"),
        "exec": ("AccessID", "Token", "StartURL"),  # no StartLimitDate for Recruit in the SDK [?]
        "sales": ("AccessID", "Status"),  # the SDK says AccessID here, OrderID elsewhere [?]
        "cancel": ("OrderID", "Status"),
        "change": ("OrderID", "Status", "Amount", "Tax", "RcUsePoint", "RcUseCoupon", "RcUseShopCoupon"),
        "update_auth": ("OrderID", "Status", "RcUpdateAuthDay"),
    },
    extra_keys={"RcOrderId": "wallet_order_id", "RcCustomerId": "customer_hash",
                "RcOrderTime": "wallet_order_time", "RcUsePoint": "use_point", "RcUseCoupon": "use_coupon",
                "RcUseShopCoupon": "use_shop_coupon", "RcUpdateAuthDay": "update_auth_day",
                "RcContractId": "", "RcStartChargeMonth": ""},  # the last two: continuous billing only
    return_keys=("RcOrderId", "RcOrderTime", "RcUsePoint", "RcUseCoupon", "RcUseShopCoupon"),
)
# Rakuten Pay would be one more row (reference §3.6), e.g. WalletKind("rakuten", "18", ("楽天ペイ", "Rakuten Pay"),
# apis={"entry": "EntryTranRakutenId", "exec": "ExecTranRakutenId", "start": "RakutenIdStart",
# "sales": "RakutenIdSales", "cancel": "RakutenIdCancel", "change": "RakutenIdChange"}, replies with
# "exec": ("AccessID", "Token", "StartURL", "StartLimitDate"), ...): not implemented, its answers are unknown.
WALLETS = {kind.name: kind for kind in (RECRUIT,)}


@dataclass
class WalletTransaction(JsonRecord):
    wallet: str
    shop_id: str
    order_id: str
    access_id: str
    access_pass: str
    job_cd: str
    amount: int
    tax: int
    created_at: datetime
    process_date: datetime
    state: str = "unprocessed"
    token: str = ""
    ret_url: str = ""
    item_name: str = ""
    start_limit: datetime | None = None
    tran_id: str = ""
    tran_date: datetime | None = None
    auth_at: datetime | None = None
    auth_expires_at: datetime | None = None
    captured_at: datetime | None = None
    wallet_order_id: str = ""
    customer_hash: str = ""
    wallet_order_time: datetime | None = None
    use_point: int = 0
    use_coupon: int = 0
    use_shop_coupon: int = 0
    update_auth_day: str = ""
    err_code: str = ""
    err_info: str = ""
    client_fields: list[str] = field(default_factory=lambda: ["", "", ""])
    history: list[dict] = field(default_factory=list)

    DATES = ("created_at", "process_date", "start_limit", "tran_date", "auth_at", "auth_expires_at",
             "captured_at", "wallet_order_time")

    @property
    def total(self) -> int:
        return self.amount + self.tax



@dataclass
class Page:
    """What the browser gets from {X}Start: an HTML page, or a 303 to RetURL carrying ``fields``."""

    status: int
    html: str = ""
    location: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""  # plain-text reason, for the control API


def end_of_next_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, calendar.monthrange(year, month)[1])


def with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    """``url`` with ``pairs`` appended to its query, values percent-encoded as cp932 like the API [?]."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(pairs, encoding="cp932")) if q)
    return urlunsplit(parts._replace(query=query))


class Notifier:
    """Result notifications (reference §5): cp932 form POST, success only on body ``0``, retried.

    GMO resends about every 60 minutes, 5 times; the sandbox keeps the count and compresses the interval
    (``interval_seconds``, per shop or global). Every attempt is recorded.
    """

    def __init__(self, clock: SandboxClock, retries: int, interval_seconds: float, timeout_seconds: float):
        self.clock = clock
        self.defaults = {"retries": retries, "interval_seconds": interval_seconds,
                         "timeout_seconds": timeout_seconds}
        self.on_change: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxies
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._generation = getattr(self, "_generation", 0) + 1  # in-flight deliveries stop retrying
            self._shops: dict[str, dict] = {}
            self._attempts: list[dict] = []

    def configure(self, shop_id: str, url: str, **options) -> dict:
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("notification url must be http(s)")
        unknown = set(options) - set(self.defaults)
        if unknown:
            raise ValueError(f"unknown notification options {sorted(unknown)}; allowed: {list(self.defaults)}")
        config = {"url": url, **{k: float(v) if "seconds" in k else int(v)
                                 for k, v in options.items() if v is not None}}
        with self._lock:
            if url:
                self._shops[shop_id] = config
            else:
                self._shops.pop(shop_id, None)
        self._changed()
        return config

    def config(self) -> dict:
        with self._lock:
            return {"defaults": dict(self.defaults), "shops": {k: dict(v) for k, v in self._shops.items()}}

    def send(self, shop_id: str, order_id: str, pairs: list[tuple[str, str]]) -> None:
        with self._lock:
            config = self._shops.get(shop_id)
            generation = self._generation
        if not config:
            return
        config = {**self.defaults, **config}
        body = urlencode(pairs, encoding="cp932").encode("ascii")
        threading.Thread(target=self._deliver, args=(generation, config, order_id, dict(pairs), body),
                         name=f"wallet-notify-{order_id}", daemon=True).start()

    def _deliver(self, generation: int, config: dict, order_id: str, params: dict, body: bytes) -> None:
        for attempt in range(1, int(config["retries"]) + 2):
            if attempt > 1:
                time.sleep(config["interval_seconds"])
                if generation != self._generation:
                    return
            status, answer, error = None, "", ""
            request = urllib.request.Request(config["url"], data=body, method="POST", headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            try:
                with self._opener.open(request, timeout=config["timeout_seconds"]) as response:
                    status, answer = response.status, response.read(1000).decode("cp932", "replace")
            except urllib.error.HTTPError as exc:
                status, error = exc.code, f"HTTP {exc.code}"
            except Exception as exc:  # refused, timeout, reset: all just a failed attempt
                error = f"{type(exc).__name__}: {exc}"
            ok = status == 200 and answer.strip() == "0"
            with self._lock:
                if generation != self._generation:
                    return
                self._attempts.append({
                    "seq": len(self._attempts) + 1, "at": self.clock.now().isoformat(timespec="milliseconds"),
                    "order_id": order_id, "status": params.get("Status", ""), "url": config["url"],
                    "attempt": attempt, "http_status": status, "answer": answer, "error": error, "ok": ok,
                    "params": params})
                del self._attempts[:-1000]
            self._changed()
            if ok:
                return

    def attempts(self, order_id: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(a) for a in self._attempts if order_id in (None, a["order_id"])]

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    def to_state(self) -> dict:
        with self._lock:
            return {"shops": dict(self._shops), "attempts": list(self._attempts)}

    def load_state(self, state: dict) -> None:
        with self._lock:
            self._shops = dict(state.get("shops", {}))
            self._attempts = list(state.get("attempts", []))


class GmoWalletSandbox:
    """``handle(api, params)`` for the wallet APIs, ``browser(start_api, form)`` for the StartURL pages.

    ``check_shop(params)`` validates ShopID/ShopPass with M01 codes and returns the ShopID (the server
    passes the card sandbox's shop registry, so both know the same shops).
    """

    def __init__(
        self,
        check_shop: Callable[[dict[str, str]], str],
        clock: SandboxClock | None = None,
        base_url: str = "http://127.0.0.1",
        auth_validity_days: int = 90,  # [?] contract-dependent (reference §3.2)
        auth_extension_days: int = 30,  # [?] RecruitUpdateAuth adds this much
        payment_term_seconds: int = 120,  # default PaymentTermSec (reference §3.6: +120 s observed)
        payment_term_max_seconds: int = 86_400,  # [?]
        status_words: dict[str, str] | None = None,
        notify_retries: int = 5,
        notify_interval_seconds: float = 10.0,  # GMO: ~60 min; compressed for the sandbox
        notify_timeout_seconds: float = 15.0,
        wallets: dict[str, WalletKind] | None = None,
    ):
        self.check_shop = check_shop
        self.clock = clock or SandboxClock()
        self.base_url = base_url  # the server sets its own URL (or the configured public one)
        self.auth_validity = timedelta(days=auth_validity_days)
        self.auth_extension = timedelta(days=auth_extension_days)
        self.payment_term, self.payment_term_max = payment_term_seconds, payment_term_max_seconds
        unknown = set(status_words or {}) - set(DEFAULT_STATUS_WORDS)
        if unknown:
            raise ValueError(f"unknown states {sorted(unknown)}; known: {list(DEFAULT_STATUS_WORDS)}")
        self.words = {**DEFAULT_STATUS_WORDS, **(status_words or {})}
        if len(set(self.words.values())) != len(self.words):
            raise ValueError(f"status words must differ from each other: {self.words}")
        self._states = {word: state for state, word in self.words.items()}
        self.kinds = dict(wallets or WALLETS)
        self._routes = {api: (kind, role) for kind in self.kinds.values()
                        for role, api in kind.apis.items() if role != "start"}
        self._starts = {kind.apis["start"]: kind for kind in self.kinds.values()}
        self._pay_types = {kind.pay_type: kind for kind in self.kinds.values()}
        self.notifier = Notifier(self.clock, notify_retries, notify_interval_seconds, notify_timeout_seconds)
        self.on_change: Callable[[], None] | None = None
        self._lock = threading.RLock()
        self.reset()

    @property
    def on_change(self) -> Callable[[], None] | None:
        return self._on_change

    @on_change.setter
    def on_change(self, callback: Callable[[], None] | None) -> None:
        self._on_change = self.notifier.on_change = callback

    @property
    def api_names(self) -> tuple[str, ...]:
        return tuple(self._routes)

    @property
    def start_names(self) -> tuple[str, ...]:
        return tuple(self._starts)

    def handles_pay_type(self, pay_type: str) -> bool:
        return pay_type in self._pay_types

    # ---- entry points ------------------------------------------------------------------------------

    def handle(self, api: str, params: dict[str, str]) -> list[tuple[str, str]]:
        if api == "SearchTradeMulti" and params.get("PayType", "") in self._pay_types:
            kind, role = self._pay_types[params["PayType"]], "search"
        elif api in self._routes:
            kind, role = self._routes[api]
        else:
            return error_pairs("E91099997")  # API does not exist
        return self._run(lambda: getattr(self, f"_{role}")(kind, params))

    def browser(self, start_api: str, form: dict[str, str]) -> Page:
        """The browser's POST to StartURL: first AccessID + Token, then the consent form's Decision."""
        kind = self._starts[start_api]

        def run() -> Page:
            tx = self._by_access.get(form.get("AccessID", "").lower())
            token = form.get("Token", "").encode("utf-8", "replace")  # bytes: compare_digest refuses non-ASCII str
            if tx is None or tx.wallet != kind.name or not tx.token or not secrets.compare_digest(tx.token.encode(),
                                                                                                 token):
                return self._message_page(kind, 400, "このお支払いは見つかりません。", "No such payment.", BAD_TOKEN)
            return self._browse(kind, tx, form.get("Decision") or "start", form)

        return self._run(run)

    def _run(self, operation):
        """One call under the lock; persist and send notifications after it, outside the lock."""
        with self._lock:
            version = self._version
            try:
                result = operation()
            except Reject as rejection:
                result = error_pairs(*rejection.infos)
            finally:
                changed, outbox = self._version != version, self._outbox
                self._outbox = []
        if changed:
            self._notify()
        for shop_id, order_id, pairs in outbox:
            self.notifier.send(shop_id, order_id, pairs)
        return result

    # ---- APIs ----------------------------------------------------------------------------------------

    def _entry(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        errs = Errors()
        order_id = form_fields.order_id(p, errs, ORDER_ID_CODES)
        job = p.get("JobCd", "")
        if not job:
            errs.add("M01054001")
        elif job not in ("AUTH", "CAPTURE"):
            errs.add("M01054010")
        amount, tax = form_fields.amount(p, errs, AMOUNT_CODES), form_fields.tax(p, errs, TAX_CODES)
        if amount is not None and tax is not None and amount + tax > MAX_TOTAL:
            errs.add("M01005011")
        if order_id and (shop_id, kind.pay_type, order_id) in self._transactions:
            errs.add("M01004010")
        errs.raise_if_any()
        now = self.clock.now()
        tx = WalletTransaction(wallet=kind.name, shop_id=shop_id, order_id=order_id,
                               access_id=secrets.token_hex(16), access_pass=secrets.token_hex(16), job_cd=job,
                               amount=amount, tax=tax, created_at=now, process_date=now)
        self._transactions[(shop_id, kind.pay_type, order_id)] = tx
        self._by_access[tx.access_id] = tx
        self._log(tx, kind.apis["entry"], now)
        return self._reply(kind, "entry", tx)

    def _exec(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        errs = Errors()
        tx = self._find(kind, p, errs, shop_id)
        ret_url = p.get("RetURL", "")
        if not ret_url or urlsplit(ret_url).scheme not in ("http", "https"):
            errs.add("M01056001")  # [?] a non-http(s) URL is treated like a missing one
        elif len(ret_url) > MAX_URL:
            errs.add("M01059005")
        item_name = p.get("ItemName", "")
        if not item_name:
            errs.add("M01043001")  # [?] required
        elif len(item_name.encode("cp932", errors="replace")) > MAX_ITEM_NAME_BYTES:
            errs.add("M01043012")
        elif _CONTROL.search(item_name):
            errs.add("M01043013")
        term = self._payment_term(p, errs)
        client_fields = [p.get(f"ClientField{i}", "") for i in (1, 2, 3)]
        for value, code in zip(client_fields, ("M01039012", "M01040012", "M01041012"), strict=True):
            if len(value.encode("cp932", errors="replace")) > 100:
                errs.add(code)
        if p.get("ClientFieldFlag", "") not in ("", "0", "1"):
            errs.add("M01042011")
        errs.raise_if_any()
        now = self._now(tx)
        if tx.state != "unprocessed":
            raise Reject("M01004014")  # 既に決済を依頼してます [?]
        tx.state, tx.token = "requested", base64.b64encode(secrets.token_bytes(48)).decode("ascii")
        tx.ret_url, tx.item_name, tx.client_fields = ret_url, item_name, client_fields
        tx.start_limit, tx.process_date = now + timedelta(seconds=term), now
        self._log(tx, kind.apis["exec"], now)
        return self._reply(kind, "exec", tx)

    def _sales(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        errs = Errors()
        tx = self._find(kind, p, errs, shop_id)
        # RecruitSales has no amount (SDK). If a caller sends Amount (and Tax) anyway, the sandbox checks them
        # against the transaction: our adapter uses this to prove no amount change was left unsent [?].
        expected = None
        if "Amount" in p:
            expected = (form_fields.amount(p, errs, AMOUNT_CODES), form_fields.tax(p, errs, TAX_CODES))
        errs.raise_if_any()
        now = self._check_state(kind, tx, "sales")
        if expected and (expected[0], expected[1] if "Tax" in p else tx.tax) != (tx.amount, tx.tax):
            raise Reject("M01055010")
        tx.state, tx.job_cd = "captured", "SALES"
        tx.captured_at = tx.tran_date = tx.process_date = now
        self._log(tx, kind.apis["sales"], now)
        return self._reply(kind, "sales", tx)

    def _cancel(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        errs = Errors()
        tx = self._find(kind, p, errs, shop_id)
        errs.raise_if_any()
        now = self._check_state(kind, tx, "cancel")
        if tx.state in CAPTURED and now.date() > end_of_next_month(tx.captured_at.astimezone(JST).date()):
            raise Reject("M01057010")  # [?] a capture is cancellable until the end of the following month
        tx.state, tx.job_cd = "cancelled", "CANCEL"
        tx.tran_date = tx.process_date = now
        self._log(tx, kind.apis["cancel"], now)
        return self._reply(kind, "cancel", tx)

    def _change(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        errs = Errors()
        tx = self._find(kind, p, errs, shop_id)
        amount, tax = form_fields.amount(p, errs, AMOUNT_CODES), form_fields.tax(p, errs, TAX_CODES)
        if amount is not None and tax is not None and amount + tax > MAX_TOTAL:
            errs.add("M01005011")
        errs.raise_if_any()
        now = self._check_state(kind, tx, "change")
        if tx.state in CAPTURED:
            self._check_change_window(tx, now)
        increase = amount + tax > tx.total
        if increase and (tx.state in CAPTURED or (tx.use_point and tx.use_point >= tx.total)):
            raise Reject("M01055011")  # never more after capture, nor on a points-only payment (seed 002) [?]
        previous = (tx.amount, tx.tax)
        tx.amount, tx.tax = amount, tax
        # Keep what the buyer used within the new total [?]: points first, then coupons.
        room = tx.total
        for attr in ("use_point", "use_coupon", "use_shop_coupon"):
            setattr(tx, attr, min(getattr(tx, attr), room))
            room -= getattr(tx, attr)
        tx.tran_date = tx.process_date = now
        self._log(tx, kind.apis["change"], now)
        self._buyer_notices.append({
            "at": now.isoformat(), "wallet": kind.name, "shop_id": tx.shop_id, "order_id": tx.order_id,
            "kind": "amount_change", "amount": amount, "tax": tax, "previous_amount": previous[0],
            "previous_tax": previous[1], "status": self.words[tx.state],
            "message": f"ご利用金額が変更されました: ¥{sum(previous):,} → ¥{tx.total:,} / "
                       f"Your payment amount was changed: ¥{sum(previous):,} → ¥{tx.total:,}"})
        del self._buyer_notices[:-1000]
        return self._reply(kind, "change", tx)

    def _update_auth(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        errs = Errors()
        tx = self._find(kind, p, errs, shop_id)
        errs.raise_if_any()
        now = self._check_state(kind, tx, "update_auth")
        tx.auth_expires_at += self.auth_extension  # [?] the extension adds to the current validity
        tx.update_auth_day = now.strftime("%Y%m%d")  # [?] date format
        tx.process_date = now
        self._log(tx, kind.apis["update_auth"], now)
        return self._reply(kind, "update_auth", tx)

    def _search(self, kind: WalletKind, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self.check_shop(p)
        order_id = p.get("OrderID", "")
        if not order_id:
            raise Reject("M01004001")
        tx = self._transactions.get((shop_id, kind.pay_type, order_id))
        if tx is None:
            raise Reject("M01004002")
        self._now(tx)
        cf1, cf2, cf3 = tx.client_fields
        # The card answer's keys (reference §2.9), then the wallet's own keys before Currency [?].
        return [
            ("Status", self.words[tx.state]), ("ProcessDate", gmo_time(tx.process_date)), ("JobCd", tx.job_cd),
            ("AccessID", tx.access_id), ("AccessPass", tx.access_pass), ("ItemCode", ""),
            ("Amount", str(tx.amount)), ("Tax", str(tx.tax)), ("SiteID", ""), ("MemberID", ""), ("CardNo", ""),
            ("Expire", ""), ("Method", ""), ("PayTimes", ""), ("Forward", ""), ("TranID", tx.tran_id),
            ("Approve", ""), ("ClientField1", cf1), ("ClientField2", cf2), ("ClientField3", cf3),
            ("PayType", kind.pay_type), *[(key, "") for key in MULTI_EMPTY_KEYS],
            *[(key, self._value(kind, tx, key)) for key in kind.extra_keys], ("Currency", "JPN"),
        ]

    # ---- the browser at StartURL -----------------------------------------------------------------------

    def _browse(self, kind: WalletKind, tx: WalletTransaction, action: str, form: dict[str, str]) -> Page:
        now = self._now(tx)
        if tx.state == "failed":
            return self._return(kind, tx)  # deadline passed (or failed before): the shop learns it
        if tx.state == "requested":  # the browser arrived; the start deadline no longer applies [?]
            tx.state, tx.process_date = "in_progress", now
            self._log(tx, kind.apis["start"], now)
        if tx.state != "in_progress":
            return self._message_page(kind, 409, "このお支払いは既に処理されています。",
                                      "This payment was already processed.", self.words[tx.state])
        if action == "start":
            return Page(200, self._consent_page(kind, tx))
        if action == "abandon":  # 戻る: nothing decided, stays AUTHPROCESS (= 要確認 for the shop)
            self._log(tx, "abandon", now)
            return self._return(kind, tx)
        if action == "fail":
            tx.state, tx.err_code, tx.err_info = "failed", BUYER_FAILED[:3], BUYER_FAILED
            tx.tran_date = tx.process_date = now
            self._log(tx, "fail", now)
            self._queue_notification(kind, tx)
            return self._return(kind, tx)
        if action != "approve":
            return self._message_page(kind, 400, "不明な操作です。", f"Unknown decision {action!r}.", "")
        try:
            usage = self._usage(form, tx.total)
        except ValueError as exc:
            return Page(400, self._consent_page(kind, tx, error=str(exc)), error=str(exc))
        self._approve(kind, tx, usage, now)
        return self._return(kind, tx)

    def _approve(self, kind: WalletKind, tx: WalletTransaction, usage: tuple[int, int, int], now: datetime) -> None:
        tx.state = "captured_immediately" if tx.job_cd == "CAPTURE" else "authorized"
        tx.use_point, tx.use_coupon, tx.use_shop_coupon = usage
        tx.auth_at, tx.auth_expires_at = now, now + self.auth_validity
        tx.captured_at = now if tx.job_cd == "CAPTURE" else None
        self._tran_seq += 1
        tx.tran_id = now.strftime("%y%m%d%H%M") + "111111111111" + f"{self._tran_seq % 1_000_000:06d}"  # [?]
        tx.tran_date = tx.process_date = tx.wallet_order_time = now
        tx.wallet_order_id = f"{secrets.randbelow(10**16):016d}"  # [?] format of Recruit's order number
        tx.customer_hash = hashlib.sha256(f"{tx.shop_id}:{tx.access_id}".encode()).hexdigest()  # [?]
        self._log(tx, "approve", now)
        self._queue_notification(kind, tx)

    @staticmethod
    def _usage(form: dict[str, str], total: int) -> tuple[int, int, int]:
        values = []
        for key in ("RcUsePoint", "RcUseCoupon", "RcUseShopCoupon"):
            raw = (form.get(key) or "0").strip()
            if not digits(raw) or len(raw) > 7:
                raise ValueError(f"{key}: 0以上の整数を入力してください / enter a whole number of 0 or more")
            values.append(int(raw))
        if sum(values) > total:
            raise ValueError(f"ポイント・クーポンがご利用金額 ¥{total:,} を超えています / "
                             f"points and coupons exceed the amount ¥{total:,}")
        return values[0], values[1], values[2]

    def _return(self, kind: WalletKind, tx: WalletTransaction) -> Page:
        """303 to RetURL with the result (reference §3.4: keys by analogy with the link type [?])."""
        pairs = [("ShopID", tx.shop_id), ("OrderID", tx.order_id), ("Status", self.words[tx.state]),
                 ("JobCd", tx.job_cd), ("Amount", str(tx.amount)), ("Tax", str(tx.tax)), ("Currency", "JPN"),
                 ("AccessID", tx.access_id), ("TranID", tx.tran_id), ("TranDate", gmo_time(tx.tran_date)),
                 ("PayType", kind.pay_type), *[(key, self._value(kind, tx, key)) for key in kind.return_keys]]
        if tx.err_info:
            pairs += [("ErrCode", tx.err_code), ("ErrInfo", tx.err_info)]
        return Page(303, location=with_query(tx.ret_url, pairs), fields=pairs)

    def _queue_notification(self, kind: WalletKind, tx: WalletTransaction) -> None:
        """Result notification keys (reference §5) plus the wallet's keys [?]; sent after the lock."""
        pairs = [("ShopID", tx.shop_id), ("ShopPass", MASKED_SHOP_PASS), ("AccessID", tx.access_id),
                 ("AccessPass", MASKED_ACCESS_PASS), ("OrderID", tx.order_id), ("Status", self.words[tx.state]),
                 ("JobCd", tx.job_cd), ("Amount", str(tx.amount)), ("Tax", str(tx.tax)), ("Currency", "JPN"),
                 ("Forward", ""), ("Method", ""), ("PayTimes", ""), ("TranID", tx.tran_id), ("Approve", ""),
                 ("TranDate", gmo_time(tx.tran_date)), ("ErrCode", tx.err_code), ("ErrInfo", tx.err_info),
                 ("PayType", kind.pay_type), *[(key, self._value(kind, tx, key)) for key in kind.return_keys]]
        self._outbox.append((tx.shop_id, tx.order_id, pairs))

    def _consent_page(self, kind: WalletKind, tx: WalletTransaction, error: str = "") -> str:
        esc = html.escape
        message = f'<p class="error">{esc(error)}</p>' if error else ""
        body = f"""{message}<dl><dt>ご注文番号 / Order</dt><dd>{esc(tx.order_id)}</dd>
<dt>商品 / Item</dt><dd id="item">{esc(tx.item_name)}</dd>
<dt>ご利用金額 / Amount</dt><dd id="amount">¥{tx.total:,}</dd></dl>
<form method="post" action="/payment/{esc(kind.apis['start'])}.idPass">
<input type="hidden" name="AccessID" value="{esc(tx.access_id)}">
<input type="hidden" name="Token" value="{esc(tx.token)}">
<label>利用ポイント / Points used <input name="RcUsePoint" value="0" inputmode="numeric"></label>
<label>クーポン割引 / Coupon discount <input name="RcUseCoupon" value="0" inputmode="numeric"></label>
<label>ショップクーポン / Shop coupon <input name="RcUseShopCoupon" value="0" inputmode="numeric"></label>
<button name="Decision" value="approve">承認する / Approve</button>
<button name="Decision" value="abandon">戻る / Back to the shop</button>
<button name="Decision" value="fail">失敗させる / Make it fail</button></form>"""
        return self._page(kind, body)

    def _message_page(self, kind: WalletKind, status: int, ja: str, en: str, code: str) -> Page:
        detail = f" <code>{html.escape(code)}</code>" if code else ""
        return Page(status, self._page(kind, f"<p class=\"error\">{html.escape(ja)}<br>{html.escape(en)}{detail}</p>"),
                    error=f"{en} {code}".strip())

    @staticmethod
    def _page(kind: WalletKind, body: str) -> str:
        ja, en = (html.escape(text) for text in kind.label)
        return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{ja} / {en} (sandbox)</title>
<style>body{{font-family:sans-serif;max-width:30em;margin:2em auto}}label{{display:block;margin:.8em 0}}
input{{font-size:1.1em;width:100%}}button{{margin:.3em .3em 0 0;font-size:1.1em}}.error{{color:#b00}}</style></head>
<body><h1>{ja} <small>{en}</small></h1><p>GMO-PG sandbox — テスト用 / for testing only</p>
{body}</body></html>"""

    # ---- shared checks ---------------------------------------------------------------------------------

    def _find(self, kind: WalletKind, p: dict[str, str], errs: Errors, shop_id: str) -> WalletTransaction | None:
        """AccessID/AccessPass/OrderID format errors, then the lookup (reported even after format errors)."""
        access_id, access_pass = p.get("AccessID", ""), p.get("AccessPass", "")
        for value, missing, bad in ((access_id, "M01007001", "M01007008"),
                                    (access_pass, "M01008001", "M01008008")):
            if not value:
                errs.add(missing)
            elif not _HEX32.fullmatch(value):
                errs.add(bad)
        order_id = p.get("OrderID", "")
        if not order_id:
            errs.add("M01004001")
        tx = self._by_access.get(access_id.lower())
        if tx is None or tx.wallet != kind.name or tx.access_pass != access_pass.lower():
            errs.add("M01058002")
        elif tx.shop_id != shop_id:
            errs.add("M01058010")
        elif order_id and order_id != tx.order_id:
            errs.add("M01004002")  # [?] an OrderID that is not the transaction's
        else:
            return tx
        return None

    def _check_state(self, kind: WalletKind, tx: WalletTransaction, role: str) -> datetime:
        now = self._now(tx)
        if tx.state == "expired":
            raise Reject("M01060010")  # [?] every operation on a lapsed authorization
        if tx.state not in ALLOWED_FROM[role]:
            raise Reject("M01054004")
        return now

    @staticmethod
    def _check_change_window(tx: WalletTransaction, now: datetime) -> None:
        """Seed 002: after capture, not on the capture day, nor 00:00-01:00 the next day; until the end of
        the following month. Codes [?]."""
        captured = tx.captured_at.astimezone(JST)
        today = now.astimezone(JST)
        if today.date() == captured.date() or (today.date() == captured.date() + timedelta(days=1)
                                               and today.hour == 0):
            raise Reject("M01054004")
        if today.date() > end_of_next_month(captured.date()):
            raise Reject("M01057010")

    def _now(self, tx: WalletTransaction) -> datetime:
        """Now, after applying what time did to ``tx`` (start deadline, authorization validity)."""
        now = self.clock.now()
        if tx.state == "requested" and tx.start_limit and now > tx.start_limit:
            tx.state, tx.err_code, tx.err_info = "failed", DEADLINE_PASSED[:3], DEADLINE_PASSED
            tx.process_date = tx.start_limit
            self._log(tx, "start deadline passed", now)
        elif tx.state == "authorized" and tx.auth_expires_at and now > tx.auth_expires_at:
            tx.state, tx.process_date = "expired", tx.auth_expires_at
            self._log(tx, "authorization validity passed", now)
        return now

    def _payment_term(self, p: dict[str, str], errs: Errors) -> int:
        raw = p.get("PaymentTermSec", "")
        if not raw:
            return self.payment_term
        if len(raw) > 5:
            errs.add("M01048005")  # [?] 5 characters
        elif not digits(raw):
            errs.add("M01048006")
        elif not 1 <= int(raw) <= self.payment_term_max:
            errs.add("M01048011")
        else:
            return int(raw)
        return self.payment_term

    def _reply(self, kind: WalletKind, role: str, tx: WalletTransaction) -> list[tuple[str, str]]:
        return [(key, self._value(kind, tx, key)) for key in kind.replies[role]]

    def _value(self, kind: WalletKind, tx: WalletTransaction, key: str) -> str:
        common = {"OrderID": tx.order_id, "AccessID": tx.access_id, "AccessPass": tx.access_pass,
                  "Status": self.words[tx.state], "Amount": str(tx.amount), "Tax": str(tx.tax), "Token": tx.token,
                  "StartURL": f"{self.base_url.rstrip('/')}/payment/{kind.apis['start']}.idPass",
                  "StartLimitDate": gmo_time(tx.start_limit)}
        if key in common:
            return common[key]
        attr = kind.extra_keys.get(key, "")
        value = getattr(tx, attr) if attr else ""
        return gmo_time(value) if isinstance(value, datetime) else str(value if value is not None else "")

    def _log(self, tx: WalletTransaction, op: str, now: datetime) -> None:
        tx.history.append({"at": now.isoformat(), "op": op, "status": self.words[tx.state], "amount": tx.amount,
                           "tax": tx.tax})
        del tx.history[:-50]
        self._version += 1

    def _notify(self) -> None:
        if self._on_change:
            self._on_change()

    # ---- control API -------------------------------------------------------------------------------------

    def browser_action(self, access_id: str, action: str, data: dict) -> dict:
        """Drive the consent page without a browser: start / approve / abandon / fail (approve accepts
        ``points``, ``coupon``, ``shop_coupon``). ValueError when there is no such transaction."""
        if action not in ("start", "approve", "abandon", "fail"):
            raise ValueError("action must be start, approve, abandon or fail")
        form = {"RcUsePoint": str(data.get("points", 0)), "RcUseCoupon": str(data.get("coupon", 0)),
                "RcUseShopCoupon": str(data.get("shop_coupon", 0))}

        def run() -> dict:
            tx = self._by_access.get(access_id.lower())
            if tx is None:
                raise ValueError(f"no wallet transaction with AccessID {access_id}")
            kind = self.kinds[tx.wallet]
            page = self._browse(kind, tx, "start", form)
            if action != "start" and page.status == 200:
                page = self._browse(kind, tx, action, form)
            return {"order_id": tx.order_id, "status": self.words[tx.state], "http_status": page.status,
                    "location": page.location, "fields": dict(page.fields), "error": page.error}

        return self._run(run)

    def transactions(self) -> list[dict]:
        return self._run(lambda: [self._public(tx) for tx in self._transactions.values()])

    def transaction(self, order_id: str, shop_id: str | None = None) -> dict | None:
        def run():
            tx = self._find_order(order_id, shop_id)
            return self._public(tx) if tx else None

        return self._run(run)

    PATCHABLE = ("status", "amount", "tax", "auth_at", "auth_expires_at", "captured_at", "start_limit",
                 "use_point", "use_coupon", "use_shop_coupon")

    def patch_transaction(self, order_id: str, changes: dict, shop_id: str | None = None) -> dict | None:
        """Change a transaction as if it happened in GMO's / the wallet's own screen."""
        unknown = set(changes) - set(self.PATCHABLE)
        if unknown:
            raise ValueError(f"not patchable: {sorted(unknown)}; allowed: {list(self.PATCHABLE)}")
        if "status" in changes and changes["status"] not in self._states:
            raise ValueError(f"unknown status {changes['status']!r}; known: {list(self._states)}")
        values = {key: parse_time(value) if key in WalletTransaction.DATES else
                  self._states[value] if key == "status" else int(value) for key, value in changes.items()}

        def run():
            tx = self._find_order(order_id, shop_id)
            if tx is None:
                return None
            for key, value in values.items():
                setattr(tx, "state" if key == "status" else key, value)
            tx.process_date = self.clock.now()
            self._log(tx, "patched", tx.process_date)
            return self._public(tx)

        return self._run(run)

    def buyer_notices(self, order_id: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(n) for n in self._buyer_notices if order_id in (None, n["order_id"])]

    def _public(self, tx: WalletTransaction) -> dict:
        self._now(tx)
        return {**tx.to_dict(), "status": self.words[tx.state]}

    def _find_order(self, order_id: str, shop_id: str | None) -> WalletTransaction | None:
        matches = [tx for (shop, _pay, oid), tx in self._transactions.items()
                   if oid == order_id and shop_id in (None, shop)]
        return matches[-1] if matches else None

    def reset(self) -> None:
        with self._lock:
            self._transactions: dict[tuple[str, str, str], WalletTransaction] = {}
            self._by_access: dict[str, WalletTransaction] = {}
            self._buyer_notices: list[dict] = []
            self._outbox: list[tuple[str, str, list[tuple[str, str]]]] = []
            self._tran_seq = 500_000
            self._version = 0
        self.notifier.reset()

    def to_state(self) -> dict:
        with self._lock:
            return {"transactions": [tx.to_dict() for tx in self._transactions.values()],
                    "buyer_notices": list(self._buyer_notices), "tran_seq": self._tran_seq,
                    "notifications": self.notifier.to_state()}

    def load_state(self, state: dict) -> None:
        self.reset()
        with self._lock:
            for data in state.get("transactions", []):
                tx = WalletTransaction.from_dict(data)
                self._transactions[(tx.shop_id, self.kinds[tx.wallet].pay_type, tx.order_id)] = tx
                self._by_access[tx.access_id] = tx
            self._buyer_notices = list(state.get("buyer_notices", []))
            self._tran_seq = state.get("tran_seq", self._tran_seq)
        self.notifier.load_state(state.get("notifications", {}))
