"""GMO-PG redirect wallet adapter: Recruit かんたん支払い, generic over GMO's redirect wallets (reference §3).

Flow: ``entry`` -> ``execute`` (a ``StartInfo``: the buyer's browser must POST AccessID + Token to its
StartURL) -> the buyer approves at the wallet and comes back to RetURL -> ``capture`` / ``cancel`` /
``change`` / ``extend_authorization``; ``search`` (SearchTradeMulti) tells the truth at any time. What the
browser brings back to RetURL is never proof of payment: confirm with ``search`` (reference §3.4).

One ``WalletApis`` row per wallet; callers ask ``capabilities`` instead of special-casing a wallet. Only
Recruit (PayType 24) is wired; another wallet of the same shape (§3.6) is a new row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateways.base import Capabilities, TransactionResult
from gateways.gmo.protocol import GmoClient
from gateways.gmo.search import as_int, parse_jst, search_transaction


@dataclass(frozen=True)
class WalletApis:
    """API names of one wallet; ``None`` = the wallet has no such operation."""

    name: str
    pay_type: int
    entry: str
    execute: str
    capture: str | None = None
    cancel: str | None = None
    change: str | None = None
    extend: str | None = None
    usage_keys: tuple[str, str, str] | None = None  # points, wallet coupon, shop coupon
    extended_on_key: str | None = None


WALLETS = {
    "recruit": WalletApis(
        "recruit", 24, "EntryTranRecruit", "ExecTranRecruit", capture="RecruitSales", cancel="RecruitCancel",
        change="RecruitChange", extend="RecruitUpdateAuth",
        usage_keys=("RcUsePoint", "RcUseCoupon", "RcUseShopCoupon"), extended_on_key="RcUpdateAuthDay",
    ),
}


class WalletStatus:
    """Status words of wallet transactions, as the sandbox answers them (reference §3.3: every word [?])."""

    UNPROCESSED = "UNPROCESSED"  # entry done
    REQUESTED = "REQSUCCESS"  # execute done, the buyer has not reached the wallet yet
    IN_PROGRESS = "AUTHPROCESS"  # the buyer is (or was left) on the wallet's pages: our 要確認
    AUTHORIZED = "AUTH"  # 仮売上
    CAPTURED_IMMEDIATELY = "CAPTURE"  # 即時売上
    CAPTURED = "SALES"  # 実売上
    CANCELLED = "CANCEL"
    FAILED = "PAYFAIL"  # the buyer failed, or the start deadline passed: 決済失敗
    EXPIRED = "EXPIRED"  # not captured within the authorization validity: 仮売上期限切れ

    LIVE = (AUTHORIZED, CAPTURED_IMMEDIATELY, CAPTURED)  # money reserved or taken at the wallet


@dataclass(frozen=True)
class WalletRef:
    """How GMO identifies one wallet transaction."""

    order_id: str
    access_id: str = ""
    access_pass: str = field(default="", repr=False)


@dataclass(frozen=True)
class StartInfo:
    """Where to send the buyer: an auto-submitted POST form with ``form_fields()`` to ``start_url``."""

    start_url: str
    token: str = field(repr=False)
    access_id: str
    start_limit: datetime | None = None  # StartLimitDate, when the wallet sends one (Recruit does not [?])

    def form_fields(self) -> dict[str, str]:
        return {"AccessID": self.access_id, "Token": self.token}


@dataclass(frozen=True)
class WalletUsage:
    """What the buyer paid with other than money: points and coupons (yen)."""

    points: int = 0
    coupon: int = 0  # wallet-funded coupon discount
    shop_coupon: int = 0  # shop-funded coupon discount

    def points_only(self, amount: int) -> bool:
        """Points covered the whole amount: such a payment can never be increased (seed 002)."""
        return self.points > 0 and self.points >= amount


class GmoWalletGateway:
    def __init__(self, client: GmoClient, wallet: str = "recruit"):
        if wallet not in WALLETS:
            raise ValueError(f"unknown wallet {wallet!r}; known: {sorted(WALLETS)}")
        self.client = client
        self.apis = WALLETS[wallet]
        self.name = f"gmo_{wallet}"
        self.capabilities = Capabilities(
            void=self.apis.cancel is not None,
            partial_refund=self.apis.change is not None,  # a decrease is a partial refund
            amount_change=self.apis.change is not None,
            reauthorize=False,
            search=True,
            authorization_extension=self.apis.extend is not None,
        )

    # -- checkout -----------------------------------------------------------------------------

    def entry(self, order_id: str, job_cd: str, amount: int) -> WalletRef:
        """Register the transaction; ``job_cd`` AUTH (仮売上) or CAPTURE (即時売上)."""
        fields = self.client.call(
            self.apis.entry, {"OrderID": order_id, "JobCd": job_cd, "Amount": amount, "Tax": 0}
        )
        return WalletRef(order_id, fields["AccessID"], fields["AccessPass"])

    def execute(self, ref: WalletRef, ret_url: str, item_name: str,
                payment_term_sec: int | None = None) -> StartInfo:
        """Get the token and StartURL; the buyer must start within ``payment_term_sec`` (GMO default 120 s)."""
        params = {**self._ids(ref), "RetURL": ret_url, "ItemName": item_name}
        if payment_term_sec is not None:
            params["PaymentTermSec"] = payment_term_sec
        fields = self.client.call(self.apis.execute, params)
        return StartInfo(fields["StartURL"], fields["Token"], fields["AccessID"],
                         parse_jst(fields.get("StartLimitDate", "")))

    # -- after checkout -----------------------------------------------------------------------

    def capture(self, ref: WalletRef, amount: int | None = None) -> TransactionResult:
        """実売上 of an authorization, for the amount the wallet holds.

        The wallet's API takes no amount. With ``amount`` we also send ``Amount`` (Tax 0) as a guard: the
        sandbox refuses a capture whose amount differs from the transaction's (M01055010), which catches an
        amount change that was never sent. GMO is expected to ignore the extra parameter [?].
        """
        params = self._ids(ref)
        if amount is not None:
            params |= {"Amount": amount, "Tax": 0}
        fields = self.client.call(self._api("capture"), params)
        return self._result(ref, fields, amount if amount is not None else 0)

    def cancel(self, ref: WalletRef) -> TransactionResult:
        """Cancel the whole transaction: an authorization, a capture (refund), or an unfinished payment."""
        fields = self.client.call(self._api("cancel"), self._ids(ref))
        return self._result(ref, fields, 0)

    def change(self, ref: WalletRef, amount: int) -> TransactionResult:
        """金額変更 to ``amount`` (never 0: a full cancel is ``cancel``). The wallet mails the buyer."""
        fields = self.client.call(self._api("change"), {**self._ids(ref), "Amount": amount, "Tax": 0})
        return self._result(ref, fields, as_int(fields.get("Amount")) + as_int(fields.get("Tax")))

    def extend_authorization(self, ref: WalletRef) -> TransactionResult:
        """オーソリ期間延長; ``raw`` carries the extension date (RcUpdateAuthDay for Recruit)."""
        fields = self.client.call(self._api("extend"), self._ids(ref))
        return self._result(ref, fields, 0)

    def search(self, order_id: str) -> TransactionResult:
        params = {"OrderID": order_id, "PayType": self.apis.pay_type}
        return search_transaction(self.client, "SearchTradeMulti", params, order_id)

    def usage(self, result: TransactionResult) -> WalletUsage:
        """Points and coupons of a ``search`` or ``change`` result (zeros for a wallet without them)."""
        if not self.apis.usage_keys:
            return WalletUsage()
        return WalletUsage(*(as_int(result.raw.get(key)) for key in self.apis.usage_keys))

    # -- helpers ----------------------------------------------------------------------------------

    def _api(self, operation: str) -> str:
        api = getattr(self.apis, operation)
        if api is None:  # callers check ``capabilities`` first
            raise NotImplementedError(f"{self.name} has no {operation} operation")
        return api

    @staticmethod
    def _ids(ref: WalletRef) -> dict[str, str]:
        return {"AccessID": ref.access_id, "AccessPass": ref.access_pass, "OrderID": ref.order_id}

    @staticmethod
    def _result(ref: WalletRef, fields: dict[str, str], amount: int) -> TransactionResult:
        return TransactionResult(status=fields.get("Status", ""), amount=amount, access_id=ref.access_id,
                                 access_pass=ref.access_pass, raw=fields)

