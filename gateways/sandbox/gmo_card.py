"""GMO-PG card API ("protocol type") sandbox: protocol rules and remembered state, no HTTP.

``GmoCardSandbox.handle(api, params)`` takes decoded form parameters and returns the ordered response
pairs (or ``ErrCode``/``ErrInfo``), exactly as /work/shared/reference/gmo-pg-protocol.md §2/§4/§6 describe.
Validation mirrors the recorded examples: format errors are collected in parameter order, the
transaction lookup still runs after them, and checks that need the transaction run only once it was
found (which is why junk ``Method``/``Amount`` values are silent in the recorded all-junk requests).

Sandbox assumptions (not confirmed by any source) are marked "Assumption:" in comments.
"""

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta

from . import JST, SandboxClock, form_fields

CARD_PAY_TYPE = "0"
FORWARD = "2a99662"
DEFAULT_ITEM_CODE = "0000990"
ENTRY_JOBS = ("CHECK", "CAPTURE", "AUTH", "SAUTH")
CANCEL_JOBS = ("VOID", "RETURN", "RETURNX")
ALTER_JOBS = ("SALES", *CANCEL_JOBS, "AUTH", "CAPTURE")
# ChangeTran JobCd -> statuses it may start from.
CHANGE_FROM = {"AUTH": ("AUTH",), "CAPTURE": ("AUTH", "CAPTURE", "SALES"), "SAUTH": ("SAUTH",)}
PROCESSING_LIMIT = timedelta(days=180)
MULTI_EMPTY_KEYS = (
    "CvsCode CvsConfNo CvsReceiptNo EdyReceiptNo EdyOrderNo SuicaOrderNo SuicaReceiptNo CustID BkCode ConfNo "
    "EncryptReceiptNo PaymentTerm WebMoneyManagementNo WebMoneySettleCode AuPayInfoNo AuPayMethod "
    "AuCancelAmount AuCancelTax DocomoSettlementCode DocomoCancelAmount DocomoCancelTax SbTrackingId "
    "SbCancelAmount SbCancelTax"
).split()
SLOW = "slow"
# Card number -> ErrInfo of the issuer decline, SLOW, or None (approved). Other Luhn-valid numbers approve.
TEST_CARDS: dict[str, str | None] = {
    "4111111111111111": None,
    "5555555555554444": None,
    "3530111333300000": None,
    "4242424242424242": None,
    "4000000000000002": "42G020000",  # insufficient balance
    "4000000000000051": "42G550000",  # over the card limit
    "4000000000000127": "42G440000",  # security code wrong
    "4000000000000259": SLOW,  # authorizes, then answers after slow_seconds
}
# Shop credential errors per family: ShopID missing / bad, ShopPass missing / bad, pair unknown.
SHOP_CODES = {
    "E01": ("E01010001", "E01010008", "E01020001", "E01020008", "E01030002"),
    "M01": ("M01002001", "M01002008", "M01003001", "M01003008", "M01002002"),
}
_DIGITS = re.compile(r"[0-9]+")
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
# Card API codes (reference §4.3). Assumption: 0 yen is refused with the "not numeric" code.
ORDER_ID_CODES = form_fields.OrderIdCodes(missing="E01040001", too_long="E01040003", bad_chars="E01040013")
AMOUNT_CODES = form_fields.AmountCodes(missing="E01060001", not_numeric="E01060006", too_long="E01060005",
                                       below_one="E01060006")
TAX_CODES = form_fields.TaxCodes(not_numeric="E01070006", too_long="E01070005")


def digits(value: str) -> bool:
    return bool(_DIGITS.fullmatch(value))


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def mask_card_no(number: str) -> str:
    return "*" * max(len(number) - 4, 0) + number[-4:] if number else ""


def redact_params(params: dict[str, str]) -> dict[str, str]:
    """What the call log may keep: no shop password, card number or security code."""
    out = dict(params)
    for key in ("ShopPass", "SitePass", "CardPass"):
        if out.get(key):
            out[key] = "********"
    if out.get("CardNo"):
        out["CardNo"] = mask_card_no(out["CardNo"])
    if out.get("SecurityCode"):
        out["SecurityCode"] = "***"
    return out


def gmo_time(moment: datetime | None) -> str:
    return moment.astimezone(JST).strftime("%Y%m%d%H%M%S") if moment else ""


def encode_pairs(pairs: list[tuple[str, str]]) -> bytes:
    """Response body: raw cp932 values, never percent-encoded (reference §1.3)."""
    return "&".join(f"{k}={v}" for k, v in pairs).encode("cp932", errors="replace")


def error_pairs(*infos: str) -> list[tuple[str, str]]:
    return [("ErrCode", "|".join(i[:3] for i in infos)), ("ErrInfo", "|".join(infos))]


class Reject(Exception):
    """Ends an API call with these ErrInfo codes (ErrCode = their 3-character family)."""

    def __init__(self, *infos: str):
        super().__init__(*infos)
        self.infos = infos


class Errors(list):
    """Validation errors collected in parameter order."""

    def add(self, info: str) -> None:
        self.append(info)

    def raise_if_any(self) -> None:
        if self:
            raise Reject(*self)


class JsonRecord:
    """State-file (de)serialization for dataclass records whose DATES fields are datetimes."""

    DATES: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in self.DATES:
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in cls.DATES:
            values[key] = parse_time(values.get(key))
        return cls(**values)


@dataclass
class Transaction(JsonRecord):
    shop_id: str
    order_id: str
    access_id: str
    access_pass: str
    job_cd: str
    amount: int
    tax: int
    created_at: datetime
    process_date: datetime
    pay_type: str = CARD_PAY_TYPE
    status: str = "UNPROCESSED"
    item_code: str = DEFAULT_ITEM_CODE
    method: str = ""
    pay_times: str = ""
    approve: str = ""
    tran_id: str = ""
    forward: str = ""
    tran_date: datetime | None = None
    auth_at: datetime | None = None
    captured_at: datetime | None = None
    card_no: str = ""  # masked only: the sandbox never keeps a full card number
    expire: str = ""
    client_fields: list[str] = field(default_factory=lambda: ["", "", ""])
    history: list[dict] = field(default_factory=list)

    DATES = ("created_at", "process_date", "tran_date", "auth_at", "captured_at")



@dataclass
class Token:
    token: str
    masked_card_no: str
    expire: str
    outcome: str | None  # decline ErrInfo, SLOW or None
    created_at: datetime
    used: bool = False


def parse_time(value) -> datetime | None:
    if value in (None, ""):
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=JST)).astimezone(JST)


def card_outcome(card_no: str) -> str | None:
    if card_no in TEST_CARDS:
        return TEST_CARDS[card_no]
    return None if luhn_ok(card_no) else "42G650000"  # card number wrong


class GmoCardSandbox:
    API_NAMES = ("EntryTran", "ExecTran", "AlterTran", "ChangeTran", "SearchTrade", "SearchTradeMulti")

    def __init__(
        self,
        clock: SandboxClock | None = None,
        auth_validity_days: int = 90,
        strict_cancel_jobs: bool = False,
        slow_seconds: float = 35.0,
        open_shops: bool = True,
        shops: dict[str, str] | None = None,
        token_ttl_seconds: int = 30 * 60,
    ):
        self.clock = clock or SandboxClock()
        self.auth_validity = timedelta(days=auth_validity_days)
        self.strict_cancel_jobs = strict_cancel_jobs
        self.slow_seconds = slow_seconds
        self.open_shops = open_shops
        self.token_ttl = timedelta(seconds=token_ttl_seconds)
        self.on_change: Callable[[], None] | None = None  # set by the server to persist state
        self._initial_shops = dict(shops or {})
        self._lock = threading.RLock()
        self._apis = {
            "EntryTran": self._entry_tran, "ExecTran": self._exec_tran, "AlterTran": self._alter_tran,
            "ChangeTran": self._change_tran, "SearchTrade": self._search_trade,
            "SearchTradeMulti": self._search_trade_multi,
        }
        self.reset()

    # ---- entry point -------------------------------------------------------------------------------

    def handle(self, api: str, params: dict[str, str]) -> list[tuple[str, str]]:
        method = self._apis.get(api)
        if method is None:
            return error_pairs("E91099997")  # API does not exist
        with self._lock:
            version = self._version
            self._delay = 0.0
            try:
                pairs = method(params)
            except Reject as rejection:
                pairs = error_pairs(*rejection.infos)
            changed, delay = self._version != version, self._delay
        if changed:
            self._notify()
        if delay:
            time.sleep(delay)  # outside the lock: the state change is already visible to others
        return pairs

    # ---- APIs ------------------------------------------------------------------------------------

    def _entry_tran(self, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self._shop(p)
        errs = Errors()
        order_id = form_fields.order_id(p, errs, ORDER_ID_CODES)
        job = p.get("JobCd", "")
        if not job:
            errs.add("E01050001")
        elif job not in ENTRY_JOBS:
            errs.add("E01050002")
        item_code = p.get("ItemCode") or DEFAULT_ITEM_CODE
        if not re.fullmatch(r"[0-9]{7}", item_code):
            errs.add("E01450008")
        amount = form_fields.amount(p, errs, AMOUNT_CODES, required=job != "CHECK")
        tax = form_fields.tax(p, errs, TAX_CODES)
        if amount is not None and tax is not None and amount + tax > 9_999_999:
            errs.add("E01490005")
        if order_id and (shop_id, CARD_PAY_TYPE, order_id) in self._transactions:
            errs.add("E01040010")
        errs.raise_if_any()
        now = self.clock.now()
        tx = Transaction(
            shop_id=shop_id, order_id=order_id, access_id=secrets.token_hex(16),
            access_pass=secrets.token_hex(16), job_cd=job, amount=amount or 0, tax=tax or 0,
            item_code=item_code, created_at=now, process_date=now,
        )
        self._transactions[(shop_id, CARD_PAY_TYPE, order_id)] = tx
        self._by_access[tx.access_id] = tx
        self._log(tx, "EntryTran", now, job)
        return [("AccessID", tx.access_id), ("AccessPass", tx.access_pass)]

    def _exec_tran(self, p: dict[str, str]) -> list[tuple[str, str]]:
        errs = Errors()
        ids = self._access_ids(p, errs)
        tx = self._lookup(ids, errs)
        if tx is not None and p.get("OrderID", "") != tx.order_id:
            errs.add("E01110002")  # Assumption: an OrderID that is not the entry's = no such transaction
            tx = None
        card = self._card_params(p, errs)
        client_fields = self._client_fields(p, errs)
        errs.raise_if_any()
        if tx.status != "UNPROCESSED":
            raise Reject("E11010001")
        method, pay_times = self._method(p, errs, required=tx.job_cd != "CHECK")
        errs.raise_if_any()
        now = self.clock.now()
        token, masked, expire, outcome = self._resolve_card(card, now)
        if outcome not in (None, SLOW):
            self._log(tx, "ExecTran", now, tx.job_cd, result=outcome)  # declined: stays UNPROCESSED
            raise Reject(outcome)
        tx.status = tx.job_cd
        tx.method, tx.pay_times, tx.card_no, tx.expire = method, pay_times, masked, expire
        tx.client_fields = client_fields
        self._authorize(tx, now, "ExecTran", capture=tx.job_cd == "CAPTURE")
        if outcome == SLOW:
            self._delay = self.slow_seconds
        pairs = [("ACS", "0"), ("OrderID", tx.order_id), ("Forward", tx.forward), ("Method", tx.method),
                 ("PayTimes", tx.pay_times), ("Approve", tx.approve), ("TranID", tx.tran_id),
                 ("TranDate", gmo_time(tx.tran_date))]
        check = "".join(v for _k, v in pairs[1:]) + self._shops.get(tx.shop_id, "")
        pairs.append(("CheckString", hashlib.md5(check.encode("cp932", errors="replace")).hexdigest()))
        if p.get("ClientFieldFlag") == "1":
            pairs += [(f"ClientField{i}", value) for i, value in enumerate(client_fields, 1)]
        return pairs

    def _alter_tran(self, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self._shop(p)
        errs = Errors()
        ids = self._access_ids(p, errs)
        job = self._job(p, errs, ALTER_JOBS)
        tx = self._lookup(ids, errs, shop_id)
        errs.raise_if_any()
        now = self._check_processable(tx)
        if job == "SALES":
            self._sales(tx, p, now)
        elif job in CANCEL_JOBS:
            self._cancel(tx, job, now)
        else:
            self._reauthorize(tx, job, p, now)
        return self._operation_reply(tx)

    def _change_tran(self, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self._shop(p)
        errs = Errors()
        ids = self._access_ids(p, errs)
        job = self._job(p, errs, tuple(CHANGE_FROM))
        tx = self._lookup(ids, errs, shop_id)
        errs.raise_if_any()
        now = self._check_processable(tx)
        if tx.status not in CHANGE_FROM[job]:
            raise Reject("E01050004")
        tx.amount, tx.tax = self._new_amount(p)
        tx.status = tx.job_cd = job
        self._authorize(tx, now, "ChangeTran", capture=job == "CAPTURE")  # validity restarts
        return self._operation_reply(tx)

    def _search_trade(self, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self._shop(p)
        errs = Errors()
        order_id = form_fields.order_id(p, errs, ORDER_ID_CODES)
        errs.raise_if_any()
        tx = self._transactions.get((shop_id, CARD_PAY_TYPE, order_id))
        if tx is None:
            raise Reject("E01110002")
        return [("OrderID", tx.order_id), *self._trade_fields(tx)]

    def _search_trade_multi(self, p: dict[str, str]) -> list[tuple[str, str]]:
        shop_id = self._shop(p, family="M01")
        errs = Errors()
        order_id = p.get("OrderID", "")
        if not order_id:
            errs.add("M01004001")
        pay_type = p.get("PayType", "")
        if not pay_type:
            errs.add("M01051001")
        else:
            if len(pay_type) > 2:
                errs.add("M01051005")
            if pay_type != CARD_PAY_TYPE:
                errs.add("M01051011")  # this sandbox answers card lookups only
        tx = self._transactions.get((shop_id, CARD_PAY_TYPE, order_id))
        if order_id and tx is None:
            errs.add("M01004002")
        errs.raise_if_any()
        empty = [(key, "") for key in MULTI_EMPTY_KEYS]
        return [*self._trade_fields(tx), ("PayType", CARD_PAY_TYPE), *empty, ("Currency", "JPN")]

    # ---- operations on a found transaction -----------------------------------------------------------

    def _sales(self, tx: Transaction, p: dict[str, str], now: datetime) -> None:
        if tx.status != "AUTH":
            raise Reject("E01050004")
        errs = Errors()
        amount = form_fields.amount(p, errs, AMOUNT_CODES)
        errs.raise_if_any()
        if amount != tx.amount:
            raise Reject("E01060010")
        if now - (tx.auth_at or tx.created_at) > self.auth_validity:
            raise Reject("E01420010")
        # A capture keeps the authorization's Approve and TranID; only TranDate moves.
        tx.status = tx.job_cd = "SALES"
        tx.tran_date = tx.process_date = tx.captured_at = now
        self._log(tx, "AlterTran", now, "SALES")

    def _cancel(self, tx: Transaction, job: str, now: datetime) -> None:
        if tx.status not in ("AUTH", "CAPTURE", "SALES"):
            raise Reject("E01050004")
        if self.strict_cancel_jobs and job != self.expected_cancel_job(tx, now):
            raise Reject("E01050004")
        tx.status = tx.job_cd = job
        self._issue_ids(tx, now)
        self._log(tx, "AlterTran", now, job)

    def _reauthorize(self, tx: Transaction, job: str, p: dict[str, str], now: datetime) -> None:
        if tx.status not in CANCEL_JOBS:
            raise Reject("E01050004")
        amount, tax = self._new_amount(p)
        if p.get("Method"):
            errs = Errors()
            tx.method, tx.pay_times = self._method(p, errs, required=True)
            errs.raise_if_any()
        tx.amount, tx.tax = amount, tax
        tx.status = tx.job_cd = job
        self._authorize(tx, now, "AlterTran", capture=job == "CAPTURE")

    def expected_cancel_job(self, tx: Transaction, now: datetime) -> str:
        """The one cancel code strict mode accepts, from JST calendar dates (reference §2.6)."""
        today = now.astimezone(JST).date()
        auth_day = (tx.auth_at or tx.created_at).astimezone(JST).date()
        sale_day = tx.captured_at.astimezone(JST).date() if tx.captured_at else None
        if today == auth_day and sale_day in (None, today):
            return "VOID"
        if sale_day is None or (today.year, today.month) == (sale_day.year, sale_day.month):
            return "RETURN"  # an uncaptured authorization is never "returned across a month"
        return "RETURNX"

    def _authorize(self, tx: Transaction, now: datetime, op: str, capture: bool) -> None:
        tx.auth_at = now
        tx.captured_at = now if capture else None
        self._issue_ids(tx, now)
        self._log(tx, op, now, tx.job_cd)

    def _issue_ids(self, tx: Transaction, now: datetime) -> None:
        self._approve_seq += 1
        self._tran_seq += 1
        tx.forward = FORWARD
        tx.approve = f"{self._approve_seq % 10_000_000:07d}"
        tx.tran_id = now.strftime("%y%m%d%H%M") + "111111111111" + f"{self._tran_seq % 1_000_000:06d}"
        tx.tran_date = tx.process_date = now

    def _check_processable(self, tx: Transaction) -> datetime:
        if tx.status == "UNPROCESSED":
            raise Reject("E01110010")
        now = self.clock.now()
        last = max(t for t in (tx.auth_at, tx.captured_at, tx.created_at) if t)
        if now - last > PROCESSING_LIMIT:
            raise Reject("E11010010")
        return now

    def _operation_reply(self, tx: Transaction) -> list[tuple[str, str]]:
        return [("AccessID", tx.access_id), ("AccessPass", tx.access_pass), ("Forward", tx.forward),
                ("Approve", tx.approve), ("TranID", tx.tran_id), ("TranDate", gmo_time(tx.tran_date))]

    def _trade_fields(self, tx: Transaction) -> list[tuple[str, str]]:
        cf1, cf2, cf3 = tx.client_fields
        return [
            ("Status", tx.status), ("ProcessDate", gmo_time(tx.process_date)), ("JobCd", tx.job_cd),
            ("AccessID", tx.access_id), ("AccessPass", tx.access_pass), ("ItemCode", tx.item_code),
            ("Amount", str(tx.amount)), ("Tax", str(tx.tax)), ("SiteID", ""), ("MemberID", ""),
            ("CardNo", tx.card_no), ("Expire", tx.expire), ("Method", tx.method), ("PayTimes", tx.pay_times),
            ("Forward", tx.forward), ("TranID", tx.tran_id), ("Approve", tx.approve),
            ("ClientField1", cf1), ("ClientField2", cf2), ("ClientField3", cf3),
        ]

    def _log(self, tx: Transaction, op: str, now: datetime, job: str, result: str = "ok") -> None:
        tx.history.append({"at": now.isoformat(), "op": op, "job_cd": job, "status": tx.status,
                           "amount": tx.amount, "approve": tx.approve, "tran_id": tx.tran_id,
                           "result": result})
        del tx.history[:-50]
        self._touch()

    def _touch(self) -> None:
        self._version += 1

    def _notify(self) -> None:
        if self.on_change:
            self.on_change()

    # ---- parameter checks ------------------------------------------------------------------------------

    def _shop(self, p: dict[str, str], family: str = "E01") -> str:
        id_missing, id_bad, pass_missing, pass_bad, unknown = SHOP_CODES[family]
        shop_id, shop_pass = p.get("ShopID", ""), p.get("ShopPass", "")
        errs = Errors()
        if not shop_id:
            errs.add(id_missing)
        elif len(shop_id) > 13 or not _ALNUM.fullmatch(shop_id):
            errs.add(id_bad)
        if not shop_pass:
            errs.add(pass_missing)
        elif len(shop_pass) > 10:
            errs.add(pass_bad)
        errs.raise_if_any()
        known = self._shops.get(shop_id)
        if known is None and self.open_shops:
            self._shops[shop_id] = known = shop_pass  # open mode: first use registers the shop
            self._touch()
        if known != shop_pass:
            raise Reject(unknown)
        return shop_id

    def _job(self, p: dict[str, str], errs: Errors, allowed: tuple[str, ...]) -> str:
        job = p.get("JobCd", "")
        if not job:
            errs.add("E01050001")
        elif job not in allowed:
            errs.add("E01050002")
        return job

    def _access_ids(self, p: dict[str, str], errs: Errors) -> tuple[str, str]:
        access_id, access_pass = p.get("AccessID", ""), p.get("AccessPass", "")
        for value, missing, bad in ((access_id, "E01090001", "E01090008"),
                                    (access_pass, "E01100001", "E01100008")):
            if not value:
                errs.add(missing)
            elif not _HEX32.fullmatch(value):
                errs.add(bad)
        return access_id, access_pass

    def _lookup(self, ids: tuple[str, str], errs: Errors, shop_id: str | None = None) -> Transaction | None:
        tx = self._by_access.get(ids[0].lower())
        if tx is None or tx.access_pass != ids[1].lower() or (shop_id and tx.shop_id != shop_id):
            errs.add("E01110002")
            return None
        return tx

    def _new_amount(self, p: dict[str, str]) -> tuple[int, int]:
        errs = Errors()
        amount, tax = form_fields.amount(p, errs, AMOUNT_CODES), form_fields.tax(p, errs, TAX_CODES)
        if not errs and amount + tax > 9_999_999:
            errs.add("E01490005")
        errs.raise_if_any()
        return amount, tax

    def _method(self, p: dict[str, str], errs: Errors, required: bool) -> tuple[str, str]:
        method, times = p.get("Method", ""), p.get("PayTimes", "")
        if not method:
            if required:
                errs.add("E01260001")
            return "", ""
        if method not in ("1", "2", "3", "4", "5"):
            errs.add("E01260002")
            return "", ""
        if method not in ("2", "4"):
            return method, ""  # PayTimes comes back empty for lump-sum and revolving payments
        if not times:
            errs.add("E01270001")
        elif len(times) > 2:
            errs.add("E01270005")
        elif not digits(times):
            errs.add("E01270006")
        elif method == "4" and times != "2":
            errs.add("E01160010")
        elif int(times) < 2:
            errs.add("E01270010")
        return method, times

    def _card_params(self, p: dict[str, str], errs: Errors) -> dict[str, str]:
        if p.get("Token"):
            return {"token": p["Token"]}
        card_no, expire, code = p.get("CardNo", ""), p.get("Expire", ""), p.get("SecurityCode", "")
        if not card_no:
            errs.add("E01170001")
        else:
            if not 10 <= len(card_no) <= 16:
                errs.add("E01170011")
            if not digits(card_no):
                errs.add("E01170006")
        if not expire:
            errs.add("E01180001")
        else:
            if len(expire) != 4:
                errs.add("E01180003")
            if not digits(expire):
                errs.add("E01180006")
            elif len(expire) == 4 and not 1 <= int(expire[2:]) <= 12:
                errs.add("E01180008")
        if code and not re.fullmatch(r"[0-9]{3,4}", code):
            errs.add("E01460008")
        return {"card_no": card_no, "expire": expire}

    def _client_fields(self, p: dict[str, str], errs: Errors) -> list[str]:
        values = [p.get(f"ClientField{i}", "") for i in (1, 2, 3)]
        for value, code in zip(values, ("E01320012", "E01330012", "E01340012"), strict=True):
            if len(value.encode("cp932", errors="replace")) > 100:
                errs.add(code)
        if p.get("ClientFieldFlag", "") not in ("", "0", "1"):
            errs.add("E01400007")
        return values

    def _resolve_card(self, card: dict[str, str], now: datetime) -> tuple[Token | None, str, str, str | None]:
        """(token to consume, masked number, expire, outcome); token problems are EX1 errors."""
        if "token" in card:
            token = self._tokens.get(card["token"])
            if token is None:
                raise Reject("EX1000301")
            if token.used:
                raise Reject("EX1000302")
            if now - token.created_at > self.token_ttl:
                raise Reject("EX1000303")
            token.used = True  # one-time, even when the issuer declines
            self._touch()
            masked, expire, outcome = token.masked_card_no, token.expire, token.outcome
        else:
            token, masked, expire = None, mask_card_no(card["card_no"]), card["expire"]
            outcome = card_outcome(card["card_no"])
        if outcome is None and (2000 + int(expire[:2]), int(expire[2:])) < (now.year, now.month):
            outcome = "42G830000"  # expiry date passed
        return token, masked, expire, outcome

    # ---- control API (used by the HTTP server's /_sandbox routes) ----------------------------------------

    def create_token(self, card_no: str, expire: str = "3012", security_code: str = "") -> dict:
        """Tokenize a card like GMO's JavaScript tokenizer; ValueError for a malformed card."""
        card_no = re.sub(r"[\s-]", "", card_no or "")
        if not re.fullmatch(r"[0-9]{10,16}", card_no):
            raise ValueError("card number must be 10-16 digits / カード番号は10〜16桁の数字です")
        if card_no not in TEST_CARDS and not luhn_ok(card_no):
            raise ValueError("card number fails the Luhn check / カード番号が正しくありません")
        if not re.fullmatch(r"[0-9]{2}(0[1-9]|1[0-2])", expire or ""):
            raise ValueError("expire must be YYMM / 有効期限はYYMM形式です")
        if security_code and not re.fullmatch(r"[0-9]{3,4}", security_code):
            raise ValueError("security code must be 3-4 digits / セキュリティコードは3〜4桁です")
        token = Token(token=base64.b64encode(secrets.token_bytes(48)).decode("ascii"),
                      masked_card_no=mask_card_no(card_no), expire=expire,
                      outcome=card_outcome(card_no), created_at=self.clock.now())
        with self._lock:
            # Forget day-old tokens so a long-running demo's state does not grow without bound.
            keep = max(self.token_ttl, timedelta(days=1))
            self._tokens = {k: t for k, t in self._tokens.items() if token.created_at - t.created_at <= keep}
            self._tokens[token.token] = token
        self._notify()
        return {"token": token.token, "masked_card_no": token.masked_card_no}

    def register_shop(self, shop_id: str, shop_pass: str) -> None:
        if not shop_id or len(shop_id) > 13 or not _ALNUM.fullmatch(shop_id):
            raise ValueError("shop_id must be 1-13 alphanumerics")
        if not shop_pass or len(shop_pass) > 10:
            raise ValueError("shop_pass must be 1-10 characters")
        with self._lock:
            self._shops[shop_id] = shop_pass
        self._notify()

    def shop_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._shops)

    def transactions(self) -> list[dict]:
        with self._lock:
            return [tx.to_dict() for tx in self._transactions.values()]

    def transaction(self, order_id: str, shop_id: str | None = None) -> dict | None:
        with self._lock:
            tx = self._find_order(order_id, shop_id)
            return tx.to_dict() if tx else None

    PATCHABLE = ("status", "job_cd", "amount", "tax", "auth_at", "captured_at", "created_at",
                 "process_date", "tran_date")

    def patch_transaction(self, order_id: str, changes: dict, shop_id: str | None = None) -> dict | None:
        """Change a transaction as if an operator did it in GMO's own screen."""
        unknown = set(changes) - set(self.PATCHABLE)
        if unknown:
            raise ValueError(f"not patchable: {sorted(unknown)}; allowed: {list(self.PATCHABLE)}")
        # Convert everything first so a bad value changes nothing.
        values = {key: parse_time(value) if key in Transaction.DATES else
                  int(value) if key in ("amount", "tax") else str(value) for key, value in changes.items()}
        with self._lock:
            tx = self._find_order(order_id, shop_id)
            if tx is None:
                return None
            now = self.clock.now()
            for key, value in values.items():
                setattr(tx, key, value)
            if "status" in changes and "job_cd" not in changes and tx.status != "UNPROCESSED":
                tx.job_cd = tx.status
            if "process_date" not in changes:
                tx.process_date = now
            self._log(tx, "patched", now, tx.job_cd, result="control")
            result = tx.to_dict()
        self._notify()
        return result

    def _find_order(self, order_id: str, shop_id: str | None) -> Transaction | None:
        matches = [tx for (shop, _pay, oid), tx in self._transactions.items()
                   if oid == order_id and shop_id in (None, shop)]
        return matches[-1] if matches else None

    def reset(self) -> None:
        with self._lock:
            self._shops: dict[str, str] = dict(self._initial_shops)
            self._transactions: dict[tuple[str, str, str], Transaction] = {}
            self._by_access: dict[str, Transaction] = {}
            self._tokens: dict[str, Token] = {}
            self._approve_seq = 6_400_000
            self._tran_seq = 100_000
            self._version = 0
            self._delay = 0.0

    def to_state(self) -> dict:
        with self._lock:
            tokens = [{**asdict(t), "created_at": t.created_at.isoformat()} for t in self._tokens.values()]
            return {"shops": dict(self._shops), "tokens": tokens,
                    "transactions": [tx.to_dict() for tx in self._transactions.values()],
                    "approve_seq": self._approve_seq, "tran_seq": self._tran_seq}

    def load_state(self, state: dict) -> None:
        self.reset()
        with self._lock:
            self._shops.update(state.get("shops", {}))
            for data in state.get("transactions", []):
                tx = Transaction.from_dict(data)
                self._transactions[(tx.shop_id, tx.pay_type, tx.order_id)] = tx
                self._by_access[tx.access_id] = tx
            for data in state.get("tokens", []):
                token = Token(**{**data, "created_at": parse_time(data["created_at"])})
                self._tokens[token.token] = token
            self._approve_seq = state.get("approve_seq", self._approve_seq)
            self._tran_seq = state.get("tran_seq", self._tran_seq)
