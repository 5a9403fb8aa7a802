"""Reading GMO's answers about a transaction: JST timestamps and the search APIs.

SearchTrade (cards) and SearchTradeMulti (every method) answer with the same core keys, so one
function turns either into a TransactionResult for both adapters.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateways.base import GatewayRefused, TransactionNotFound, TransactionResult
from gateways.gmo.protocol import GmoClient

JST = ZoneInfo("Asia/Tokyo")

# ErrInfo codes meaning "no such transaction" (card API and multi-method API).
NOT_FOUND_CODES = ("E01110002", "M01004002")


def parse_jst(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=JST)
    except ValueError:
        return None


def as_int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def search_transaction(client: GmoClient, api: str, params: dict, order_id: str) -> TransactionResult:
    try:
        fields = client.call(api, params)
    except GatewayRefused as exc:
        if any(exc.has(code) for code in NOT_FOUND_CODES):
            raise TransactionNotFound(order_id) from exc
        raise
    return TransactionResult(
        status=fields.get("Status", ""),
        amount=as_int(fields.get("Amount")) + as_int(fields.get("Tax")),
        access_id=fields.get("AccessID", ""),
        access_pass=fields.get("AccessPass", ""),
        approve=fields.get("Approve", ""),
        tran_id=fields.get("TranID", ""),
        processed_at=parse_jst(fields.get("ProcessDate", "")),
        job_cd=fields.get("JobCd", ""),
        raw={k: v for k, v in fields.items() if k != "AccessPass"},
    )
