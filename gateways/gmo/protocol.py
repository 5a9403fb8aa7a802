"""GMO-PG "protocol type" wire format: cp932 form POSTs, `Key=value&…` answers, ErrCode|ErrInfo.

See shared/reference/gmo-pg-protocol.md §1. Values in answers are raw cp932 bytes (not
percent-encoded), so we split bytes first and decode each value afterwards.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import requests

from gateways.base import (
    GatewayErrorDetail,
    GatewayNotSent,
    GatewayOutcomeUnknown,
    GatewayRefused,
)

logger = logging.getLogger(__name__)

# Never log these: credentials and per-transaction passwords.
# RetURL carries the buyer's signed checkout link: whoever reads the log could open that page.
SECRET_PARAMS = frozenset({"ShopPass", "AccessPass", "SitePass", "CardPass", "Token", "CardNo", "SecurityCode",
                           "RetURL"})

# Keys every successful answer of an API carries. A 200 without them is not a GMO answer (a proxy's
# or maintenance page, a truncated body): we cannot know whether it was applied.
REQUIRED_KEYS = {
    "EntryTran": ("AccessID", "AccessPass"),
    "ExecTran": ("OrderID", "TranID"),
    "AlterTran": ("AccessID", "TranID"),
    "ChangeTran": ("AccessID", "TranID"),
    "SearchTrade": ("OrderID", "Status"),
    "SearchTradeMulti": ("Status", "PayType"),
    # Redirect wallets (reference §3.2). RecruitSales: the SDK names AccessID, the other calls OrderID [?],
    # so only Status is required there.
    "EntryTranRecruit": ("OrderID", "AccessID", "AccessPass"),
    "ExecTranRecruit": ("AccessID", "Token", "StartURL"),
    "RecruitSales": ("Status",),
    "RecruitCancel": ("OrderID", "Status"),
    "RecruitChange": ("OrderID", "Status", "Amount"),
    "RecruitUpdateAuth": ("OrderID", "Status"),
}


def encode_request(params: dict[str, str | int | None]) -> bytes:
    clean = {k: "" if v is None else str(v) for k, v in params.items()}
    return urlencode(clean, encoding="cp932").encode("ascii")


def parse_response(body: bytes) -> dict[str, str]:
    body = body.rstrip(b"\r\n")
    if not body:
        return {}
    result: dict[str, str] = {}
    for part in body.split(b"&"):
        key, _, value = part.partition(b"=")
        result[key.decode("ascii", "replace")] = value.decode("cp932", "replace")
    return result


def parse_errors(fields: dict[str, str]) -> list[GatewayErrorDetail]:
    codes = [c for c in fields.get("ErrCode", "").split("|") if c]
    infos = [i for i in fields.get("ErrInfo", "").split("|") if i]
    return [GatewayErrorDetail(code=c, info=i) for c, i in zip(codes, infos, strict=False)] or [
        GatewayErrorDetail(code=fields.get("ErrCode", ""), info=fields.get("ErrInfo", ""))
    ]


def redacted(params: dict) -> dict:
    return {k: ("***" if k in SECRET_PARAMS else v) for k, v in params.items()}


class GmoClient:
    """Posts one API call. Never retries: a retry of a money call is the caller's decision."""

    def __init__(self, base_url: str, shop_id: str, shop_pass: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.shop_id = shop_id
        self._shop_pass = shop_pass
        self.timeout = timeout
        self._session = requests.Session()

    def __repr__(self) -> str:  # keep the password out of any traceback or log
        return f"GmoClient({self.base_url!r}, shop_id={self.shop_id!r})"

    def call(self, api: str, params: dict, *, with_shop: bool = True) -> dict[str, str]:
        if with_shop:
            params = {"ShopID": self.shop_id, "ShopPass": self._shop_pass, **params}
        url = f"{self.base_url}/payment/{api}.idPass"
        logger.info("GMO %s %s", api, redacted(params))
        try:
            response = self._session.post(
                url,
                data=encode_request(params),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=(min(5.0, self.timeout), self.timeout),
            )
        except requests.exceptions.ConnectTimeout as exc:
            raise GatewayNotSent(f"{api}: connect timeout") from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise GatewayNotSent(f"{api}: connection refused") from exc
            raise GatewayOutcomeUnknown(f"{api}: connection lost before the answer") from exc
        except requests.exceptions.RequestException as exc:  # read timeout and the rest
            raise GatewayOutcomeUnknown(f"{api}: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise GatewayOutcomeUnknown(f"{api}: HTTP {response.status_code}")
        if response.status_code >= 400:
            # Treated like GMO's own client: a transport failure, but the request did arrive.
            raise GatewayOutcomeUnknown(f"{api}: HTTP {response.status_code}")
        fields = parse_response(response.content)
        if "ErrCode" in fields:
            errors = parse_errors(fields)
            logger.info("GMO %s refused %s", api, "|".join(e.info for e in errors))
            raise GatewayRefused(errors)
        missing = [key for key in REQUIRED_KEYS.get(api, ()) if key not in fields]
        if not fields or missing:
            raise GatewayOutcomeUnknown(f"{api}: not a gateway answer (missing {', '.join(missing) or 'everything'})")
        return fields


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True only when the TCP connection was never established (so nothing was sent)."""
    import urllib3.exceptions

    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, urllib3.exceptions.NewConnectionError | ConnectionRefusedError)
