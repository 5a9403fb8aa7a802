"""Recruit easy pay (SPEC 3.2) payments put into each of the seven states through real flows at the sandbox.

Nothing here writes a status directly: every state is reached the way production reaches it (the buyer at
the sandbox wallet, our services, the status sync), so the tests prove the services, not a fixture.

Time: `wallet_clock` freezes Django's time (time_machine) and sets the sandbox clock to the same moment. The
sandbox runs in this process, so both read the same frozen clock; `move_to` keeps them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import time_machine
from django.conf import settings

from orders.models import Order
from payments import services
from payments.actors import Actor
from payments.card_rules import JST
from payments.errors import GatewayDeclined
from payments.models import Payment, Status
from refunds.models import RefundTask
from tests.factories import wallet_order

SYSTEM = Actor.system("wallet tests")
# A Thursday 10:00 JST, far from month ends (capture day of the table tests).
BASE = datetime(2031, 4, 10, 10, 0, tzinfo=JST)
# Calls that move money or change the transaction at the PG (SearchTradeMulti only reads).
MUTATING_APIS = ("RecruitSales", "RecruitCancel", "RecruitChange", "RecruitUpdateAuth")
# What the injected capture refusal answers: the PG is busy (the link failed), the authorization stays AUTH.
CAPTURE_REFUSAL = {"api": "RecruitSales", "action": "error", "err_info": "E92000001", "times": 1}


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


class WalletClock:
    """Django's frozen time and the sandbox's clock, moved together."""

    def __init__(self, sandbox, traveller):
        self.sandbox = sandbox
        self.traveller = traveller
        self.now = BASE

    def move_to(self, moment: datetime) -> datetime:
        self.traveller.move_to(moment)
        self.sandbox.set_clock(at=moment)
        self.now = moment
        return moment

    def advance(self, delta: timedelta) -> datetime:
        return self.move_to(self.now + delta)


@pytest.fixture
def actor(operator) -> Actor:
    """The shop's operator, as the services see them."""
    return Actor.for_user(operator)


@pytest.fixture
def wallet_clock(sandbox):
    with time_machine.travel(BASE, tick=False) as traveller:
        clock = WalletClock(sandbox, traveller)
        clock.move_to(BASE)
        yield clock
    sandbox.set_clock(0)


# --- the seven states, through real flows ---------------------------------------------------------------


def fresh(order: Order) -> Order:
    """The order and its payment as the database holds them now (no cached payment)."""
    return Order.objects.select_related("payment__shop").get(pk=order.pk)


def settled(order: Order, sandbox, status: str, pg_status: str) -> Order:
    """`order` fresh from the database, its payment in `status` here and in `pg_status` at the PG."""
    order = fresh(order)
    assert order.payment.status == status
    assert sandbox.wallet_transaction(order.payment.gateway_order_id)["status"] == pg_status
    return order


def authorized(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """仮売上: the buyer approved at the wallet, the sync learnt it from SearchTradeMulti."""
    return settled(wallet_order(shop, sandbox, **kwargs), sandbox, Status.AUTHORIZED, "AUTH")


def captured(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """決済完了: approved, then captured (RecruitSales)."""
    order = authorized(shop, sandbox, **kwargs)
    services.capture_payment(order.payment, by=SYSTEM)
    return settled(order, sandbox, Status.CAPTURED, "SALES")


def needs_confirmation(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """要確認: the buyer pressed 戻る on the wallet page and came back; the PG still shows AUTHPROCESS."""
    order = wallet_order(shop, sandbox, approve=False, **kwargs)
    sandbox.wallet_abandon(order.payment.access_id)
    services.sync_payment(order.payment, actor=SYSTEM, buyer_returned=True)
    return settled(order, sandbox, Status.NEEDS_CONFIRMATION, "AUTHPROCESS")


def payment_failed(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """決済失敗: the payment failed at the wallet (PAYFAIL); the sync learnt it."""
    order = wallet_order(shop, sandbox, approve=False, **kwargs)
    sandbox.wallet_fail(order.payment.access_id)
    services.sync_payment(order.payment, actor=SYSTEM)
    return settled(order, sandbox, Status.PAYMENT_FAILED, "PAYFAIL")


def capture_failed(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """売上失敗: the PG refused the capture (injected error code); the PG still holds the authorization."""
    order = authorized(shop, sandbox, **kwargs)
    sandbox.set_faults(rules=[CAPTURE_REFUSAL])
    with pytest.raises(GatewayDeclined):
        services.capture_payment(order.payment, by=SYSTEM)
    sandbox.clear_faults()
    return settled(order, sandbox, Status.CAPTURE_FAILED, "AUTH")


def cancelled(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """注文キャンセル: an authorized order cancelled (RecruitCancel)."""
    order = authorized(shop, sandbox, **kwargs)
    services.cancel_payment(order.payment, by=SYSTEM)
    return settled(order, sandbox, Status.CANCELLED, "CANCEL")


def auth_expired(shop, sandbox, clock: WalletClock | None = None, **kwargs) -> Order:
    """仮売上期限切れ: authorized, then the clocks pass the PG's authorization validity; the sync learns it."""
    order = authorized(shop, sandbox, **kwargs)
    past = timedelta(days=settings.WALLET_AUTH_VALIDITY_DAYS, hours=1)
    if clock is not None:
        clock.advance(past)
    else:
        sandbox.advance_clock(past.total_seconds())
    services.sync_payment(order.payment, actor=SYSTEM)
    return settled(order, sandbox, Status.AUTH_EXPIRED, "EXPIRED")


STATE_BUILDERS: dict[str, Callable[..., Order]] = {
    Status.NEEDS_CONFIRMATION: needs_confirmation,
    Status.AUTHORIZED: authorized,
    Status.CAPTURED: captured,
    Status.CANCELLED: cancelled,
    Status.CAPTURE_FAILED: capture_failed,
    Status.PAYMENT_FAILED: payment_failed,
    Status.AUTH_EXPIRED: auth_expired,
}
WALLET_STATES = tuple(STATE_BUILDERS)


@pytest.fixture
def wallet_in(shop, sandbox, wallet_clock):
    """`wallet_in(Status.X, **wallet_order kwargs)`: an order whose payment reached X through real flows."""

    def build(status: str, **kwargs) -> Order:
        return STATE_BUILDERS[status](shop, sandbox, wallet_clock, **kwargs)

    return build


# --- "nothing changed" ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    payment: dict
    operations: int
    refund_tasks: int
    order: dict
    shipments: list
    pg: dict | None


def snapshot(order: Order, sandbox) -> Snapshot:
    payment_id = order.payment_id
    payment = Payment.objects.get(pk=payment_id)
    return Snapshot(
        payment=Payment.objects.filter(pk=payment_id).values().get(),
        operations=payment.operations.count(),
        refund_tasks=RefundTask.objects.filter(payment_id=payment_id).count(),
        order=Order.objects.filter(pk=order.pk).values().get(),
        shipments=list(order.shipments.order_by("pk").values()),
        pg=sandbox.wallet_transaction(payment.gateway_order_id),
    )


def mutating_calls(sandbox) -> list[dict]:
    return [call for call in sandbox.calls() if call["api"] in MUTATING_APIS]


def apis_called(sandbox) -> list[str]:
    return [call["api"] for call in sandbox.calls()]
