"""GMO-PG credit card adapter (EntryTran / ExecTran / AlterTran / ChangeTran / SearchTrade)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateways.base import Capabilities, TransactionResult
from gateways.gmo.protocol import GmoClient
from gateways.gmo.search import parse_jst, search_transaction


@dataclass(frozen=True)
class CardRef:
    """How GMO identifies one card transaction."""

    order_id: str
    access_id: str = ""
    access_pass: str = field(default="", repr=False)


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
        return search_transaction(self.client, "SearchTrade", {"OrderID": order_id}, order_id)

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
