"""GMO-PG credit card adapter (EntryTran / ExecTran / AlterTran / ChangeTran / SearchTrade)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from gateways.base import Capabilities, GatewayRefused, TransactionNotFound, TransactionResult
from gateways.gmo.protocol import GmoClient

JST = ZoneInfo("Asia/Tokyo")

# ErrInfo codes meaning "no such transaction" (card API and multi-method API).
NOT_FOUND_CODES = ("E01110002", "M01004002")


@dataclass(frozen=True)
class CardRef:
    """How GMO identifies one card transaction."""

    order_id: str
    access_id: str = ""
    access_pass: str = field(default="", repr=False)


def parse_jst(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=JST)
    except ValueError:
        return None


class GmoCardGateway:
    name = "gmo_card"
    capabilities = Capabilities(
        void=True, partial_refund=True, amount_change=True, reauthorize=True, search=True
    )

    def __init__(self, client: GmoClient):
        self.client = client

    # -- checkout -----------------------------------------------------------------------------

    def entry(self, order_id: str, job_cd: str, amount: int) -> CardRef:
        fields = self.client.call(
            "EntryTran", {"OrderID": order_id, "JobCd": job_cd, "Amount": amount, "Tax": 0}
        )
        return CardRef(order_id, fields["AccessID"], fields["AccessPass"])

    def execute(self, ref: CardRef, token: str, job_cd: str, amount: int) -> TransactionResult:
        fields = self.client.call(
            "ExecTran",
            {
                "AccessID": ref.access_id,
                "AccessPass": ref.access_pass,
                "OrderID": ref.order_id,
                "Method": 1,  # 一括 (lump sum): the only method this product offers
                "Token": token,
            },
            with_shop=False,
        )
        return TransactionResult(
            status=job_cd,
            amount=amount,
            access_id=ref.access_id,
            access_pass=ref.access_pass,
            approve=fields.get("Approve", ""),
            tran_id=fields.get("TranID", ""),
            processed_at=parse_jst(fields.get("TranDate", "")),
            job_cd=job_cd,
            raw=fields,
        )

    # -- after checkout -----------------------------------------------------------------------

    def alter(self, ref: CardRef, job_cd: str, amount: int | None = None) -> TransactionResult:
        """SALES (capture), VOID / RETURN / RETURNX (cancel), AUTH / CAPTURE (re-authorize)."""
        params = {"AccessID": ref.access_id, "AccessPass": ref.access_pass, "JobCd": job_cd}
        if amount is not None:
            params["Amount"] = amount
            params["Method"] = 1
        fields = self.client.call("AlterTran", params)
        return self._after_change(ref, job_cd, amount, fields)

    def change(self, ref: CardRef, job_cd: str, amount: int) -> TransactionResult:
        """金額変更: AUTH keeps an authorization, CAPTURE makes it an immediate sale."""
        fields = self.client.call(
            "ChangeTran",
            {"AccessID": ref.access_id, "AccessPass": ref.access_pass, "JobCd": job_cd, "Amount": amount,
             "Tax": 0},
        )
        return self._after_change(ref, job_cd, amount, fields)

    def search(self, order_id: str) -> TransactionResult:
        try:
            fields = self.client.call("SearchTrade", {"OrderID": order_id})
        except GatewayRefused as exc:
            if any(exc.has(code) for code in NOT_FOUND_CODES):
                raise TransactionNotFound(order_id) from exc
            raise
        return TransactionResult(
            status=fields.get("Status", ""),
            amount=int(fields.get("Amount") or 0) + int(fields.get("Tax") or 0),
            access_id=fields.get("AccessID", ""),
            access_pass=fields.get("AccessPass", ""),
            approve=fields.get("Approve", ""),
            tran_id=fields.get("TranID", ""),
            processed_at=parse_jst(fields.get("ProcessDate", "")),
            job_cd=fields.get("JobCd", ""),
            raw={k: v for k, v in fields.items() if k != "AccessPass"},
        )

    @staticmethod
    def _after_change(ref: CardRef, job_cd: str, amount: int | None, fields: dict) -> TransactionResult:
        return TransactionResult(
            status=job_cd,
            amount=amount if amount is not None else 0,
            access_id=ref.access_id,
            access_pass=ref.access_pass,
            approve=fields.get("Approve", ""),
            tran_id=fields.get("TranID", ""),
            processed_at=parse_jst(fields.get("TranDate", "")),
            job_cd=job_cd,
            raw=fields,
        )
