"""SPEC 3.2 through the services against the sandbox: every wallet state × every operation.

Each cell reaches its state through real flows (tests/wallet/conftest.py), runs the operation the way the
admin / API does, and asserts either the effect (our row, the sandbox's transaction, the calls that reached
the PG) or the refusal: the message names the rule, and nothing changed, here or at the PG.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.conf import settings

from orders.method_change import change_payment_method
from orders.models import Fulfilment, Order
from orders.shipping import mark_returned, mark_shipped
from payments import services
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, GatewayDeclined, InvalidTransition
from payments.models import Method, OperationKind, OperationState, Payment, PaymentOperation, Status
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation, availability
from refunds.models import RefundTask, RefundTaskStatus
from tests.factories import member
from tests.wallet.conftest import (
    WALLET_STATES,
    apis_called,
    authorized,
    captured,
    fresh,
    jst,
    mutating_calls,
    snapshot,
)

# transaction=True: the orders app hears of payment changes on commit (payments.signals), as in production.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

AMOUNT = 5000
NEW_AMOUNT = 4000

# The rules' own words (payments/wallet_rules.py), one distinctive phrase per rule.
CANCELLED_ORDER = "This order is cancelled (注文キャンセル)"
CAPTURE_ONLY_AUTHORIZED = "Only an authorized (仮売上) order can be captured"
AMOUNT_ONLY_LIVE = "The amount can be changed only while the order is authorized (仮売上) or its payment is completed"
EXTEND_ONLY_AUTHORIZED = "Only an authorized (仮売上) order's authorization period can be extended"
EXTEND_DISABLED = "Authorization extension is not enabled for this shop"
METHOD_ONLY_FROM = "The payment method can be changed only from 要確認, 決済失敗, 仮売上期限切れ or 注文キャンセル"
SHIP_ONLY_COMPLETED = "Only an order whose payment is completed (決済完了) can be marked shipped"
SHIPPED_RULE = "The goods have been shipped. An order with the status “%s” can be cancelled only before shipping"


@dataclass
class Cell:
    order: Order
    shop: object
    sandbox: object
    clock: object
    actor: Actor
    pg_before: dict | None = None

    @property
    def payment(self) -> Payment:
        return self.order.payment

    def reload(self) -> Cell:
        self.order = fresh(self.order)
        return self

    def pg(self) -> dict:
        return self.sandbox.wallet_transaction(self.payment.gateway_order_id)

    def last_op(self, kind: str) -> PaymentOperation:
        return PaymentOperation.objects.filter(payment_id=self.order.payment_id, kind=kind).latest("id")


# --- operations: (prepare, act); prepare runs before the "nothing changed" snapshot -----------------------


def _no_prep(cell: Cell) -> None:
    pass


def _next_day(cell: Cell) -> None:
    # Edited the day after the state was reached: inside the 決済完了 window (capture day excluded).
    cell.clock.advance(timedelta(days=1))


def _extension(enabled: bool) -> Callable[[Cell], None]:
    def prep(cell: Cell) -> None:
        cell.shop.wallet_auth_extension_enabled = enabled
        cell.shop.save(update_fields=["wallet_auth_extension_enabled"])

    return prep


def act_capture(cell: Cell):
    return services.capture_payment(cell.payment, by=cell.actor)


def act_cancel(cell: Cell):
    return services.cancel_payment(cell.payment, by=cell.actor)


def act_change_amount(cell: Cell):
    services.record_amount_change(cell.payment, new_amount=NEW_AMOUNT, by=cell.actor)
    assert Payment.objects.get(pk=cell.order.payment_id).pending_amount == NEW_AMOUNT  # held, not yet sent
    assert not mutating_calls(cell.sandbox), "recording the edit sends nothing to the PG"
    return services.send_amount_change(cell.payment, by=cell.actor)


def act_extend(cell: Cell):
    return services.extend_authorization(cell.payment, by=cell.actor)


def act_change_method(cell: Cell):
    return change_payment_method(cell.order, method=Method.CARD, by=cell.actor)


def act_mark_shipped(cell: Cell):
    return mark_shipped(cell.order, carrier="ヤマト運輸", slip_number="4321-0987-6543", by=cell.actor)


OPERATIONS: dict[str, tuple[Callable[[Cell], None], Callable[[Cell], object]]] = {
    "capture": (_no_prep, act_capture),
    "cancel": (_no_prep, act_cancel),
    "change_amount": (_next_day, act_change_amount),
    "extend_enabled": (_extension(True), act_extend),
    "extend_disabled": (_extension(False), act_extend),
    "change_method": (_no_prep, act_change_method),
    "mark_shipped": (_no_prep, act_mark_shipped),
}


# --- expectations ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    phrase: str
    error: type = InvalidTransition


def _assert_pg_checked_first(cell: Cell) -> None:
    apis = apis_called(cell.sandbox)
    assert "SearchTradeMulti" in apis, "the PG must be queried first"
    mutating = [i for i, api in enumerate(apis) if api in ("RecruitCancel", "RecruitSales", "RecruitChange")]
    if mutating:
        assert apis.index("SearchTradeMulti") < mutating[0], apis


def _cancelled_here(cell: Cell, before: Payment, *, pg_cancel: bool, explanation: str) -> None:
    payment = cell.payment
    assert payment.status == Status.CANCELLED
    assert payment.cancelled_at == cell.clock.now
    assert payment.version > before.version
    assert payment.pending_amount is None
    op = cell.last_op(OperationKind.CANCEL)
    assert op.state == OperationState.SUCCEEDED and op.status_before == before.status
    assert explanation in op.explanation, op.explanation
    assert op.actor_label == cell.actor.label
    calls = [c["api"] for c in mutating_calls(cell.sandbox)]
    assert calls == (["RecruitCancel"] if pg_cancel else []), calls
    assert not RefundTask.objects.filter(payment_id=payment.pk).exists()
    assert cell.order.fulfilment_status == Fulfilment.CANCELLED


def expect_captured(cell: Cell, before: Payment, result) -> None:
    payment = cell.payment
    assert payment.status == Status.CAPTURED and payment.get_status_display() == "Payment completed"
    assert (payment.amount, payment.captured_amount, payment.captured_at) == (AMOUNT, AMOUNT, cell.clock.now)
    assert payment.version > before.version
    [call] = mutating_calls(cell.sandbox)
    assert call["api"] == "RecruitSales" and call["params"]["Amount"] == str(AMOUNT)
    pg = cell.pg()
    assert (pg["status"], pg["amount"]) == ("SALES", AMOUNT)
    assert cell.order.fulfilment_status == Fulfilment.PAID


def expect_cancel_live_unfinished(cell: Cell, before: Payment, result) -> None:
    """要確認: the PG still shows AUTHPROCESS (the buyer could still finish): cancelled at the PG, by us."""
    _assert_pg_checked_first(cell)
    _cancelled_here(cell, before, pg_cancel=True, explanation="still shows the transaction as AUTHPROCESS")
    assert cell.pg()["status"] == "CANCEL"


def expect_cancel_authorization(cell: Cell, before: Payment, result) -> None:
    _cancelled_here(cell, before, pg_cancel=True,
                    explanation="the authorization of ¥5,000 is released at the PG; nothing was charged")
    assert cell.payment.refunded_amount == 0
    assert cell.pg()["status"] == "CANCEL"


def expect_cancel_capture_at_pg(cell: Cell, before: Payment, result) -> None:
    """決済完了 inside the PG's window: the PG refunds, and the operator is told not to refund by hand."""
    _cancelled_here(cell, before, pg_cancel=True,
                    explanation="the PG refunds ¥5,000 to the buyer. Do not refund by hand.")
    assert (cell.payment.captured_amount, cell.payment.refunded_amount) == (0, AMOUNT)
    assert cell.pg()["status"] == "CANCEL"


def _expect_cancel_nothing_at_pg(word: str):
    def check(cell: Cell, before: Payment, result) -> None:
        _cancelled_here(cell, before, pg_cancel=False,
                        explanation=f"the PG holds nothing for this payment (it shows {word})")
        assert cell.pg()["status"] == word  # nothing was sent

    return check


def expect_capture_failed_cancel_rechecked(cell: Cell, before: Payment, result) -> None:
    """売上失敗: the PG is asked first; it still holds the authorization, so our record becomes 仮売上 and the
    operator must look again (ChangedMeanwhile). Cancelled again, it is a 仮売上 cancel, executed at the PG."""
    assert isinstance(result, ChangedMeanwhile), result
    assert "The PG shows this payment as AUTH" in result.message and "Authorized" in result.message
    assert apis_called(cell.sandbox) == ["SearchTradeMulti"]
    payment = cell.payment
    assert payment.status == Status.AUTHORIZED and payment.version > before.version
    assert cell.pg()["status"] == "AUTH"
    assert not PaymentOperation.objects.filter(payment_id=payment.pk, kind=OperationKind.CANCEL).exists()

    cell.sandbox.clear_calls()
    looked_again = Payment.objects.get(pk=payment.pk)
    services.cancel_payment(looked_again, by=cell.actor)
    cell.reload()
    _cancelled_here(cell, payment, pg_cancel=True, explanation="the authorization of ¥5,000 is released")


def expect_amount_changed(cell: Cell, before: Payment, result) -> None:
    payment = cell.payment
    assert payment.status == before.status
    assert (payment.amount, payment.pending_amount) == (NEW_AMOUNT, None)
    if before.status == Status.CAPTURED:  # a decrease after capture is a partial refund by the PG
        assert (payment.captured_amount, payment.refunded_amount) == (NEW_AMOUNT, AMOUNT - NEW_AMOUNT)
    else:
        assert (payment.captured_amount, payment.refunded_amount) == (0, 0)
    [call] = mutating_calls(cell.sandbox)
    assert call["api"] == "RecruitChange" and call["params"]["Amount"] == str(NEW_AMOUNT)
    pg = cell.pg()
    assert pg["amount"] == NEW_AMOUNT and pg["status"] == ("SALES" if before.status == Status.CAPTURED else "AUTH")
    [notice] = cell.sandbox.wallet_buyer_notices(payment.gateway_order_id)
    assert (notice["previous_amount"], notice["amount"]) == (AMOUNT, NEW_AMOUNT)


def expect_extended(cell: Cell, before: Payment, result) -> None:
    payment = cell.payment
    days = timedelta(days=settings.WALLET_AUTH_EXTENSION_DAYS)
    assert payment.status == Status.AUTHORIZED
    assert payment.authorization_expires_at == before.authorization_expires_at + days
    assert payment.authorization_extended_at == cell.clock.now
    assert [c["api"] for c in mutating_calls(cell.sandbox)] == ["RecruitUpdateAuth"]
    pg = cell.pg()
    assert pg["status"] == "AUTH" and pg["update_auth_day"] == cell.clock.now.strftime("%Y%m%d")
    assert datetime.fromisoformat(pg["auth_expires_at"]) == datetime.fromisoformat(
        cell.pg_before["auth_expires_at"]) + days


def _expect_method_changed(*, pg_cancel: bool, pg_checked: bool):
    def check(cell: Cell, before: Payment, new: Payment) -> None:
        old = Payment.objects.get(pk=before.pk)
        assert old.status == Status.CANCELLED and old.replaced_by_id == new.pk
        order = Order.objects.get(pk=cell.order.pk)
        assert order.payment_id == new.pk and order.fulfilment_status == Fulfilment.PENDING_PAYMENT
        assert (new.method, new.status, new.amount) == (Method.CARD, Status.UNPROCESSED, AMOUNT)
        assert [c["api"] for c in mutating_calls(cell.sandbox)] == (["RecruitCancel"] if pg_cancel else [])
        if pg_checked:
            _assert_pg_checked_first(cell)
        if pg_cancel:
            assert cell.sandbox.wallet_transaction(old.gateway_order_id)["status"] == "CANCEL"

    return check


def expect_shipped(cell: Cell, before: Payment, shipment) -> None:
    payment = cell.payment
    assert payment.status == Status.CAPTURED and payment.version == before.version  # no payment change
    assert shipment.shipped_at == cell.clock.now and shipment.slip_number == "4321-0987-6543"
    assert cell.order.fulfilment_status == Fulfilment.SHIPPED
    assert cell.sandbox.calls() == [], "shipping is ours alone"


S = Status
TABLE: dict[str, dict[str, object]] = {
    S.NEEDS_CONFIRMATION: {
        "capture": Refused(CAPTURE_ONLY_AUTHORIZED),
        "cancel": expect_cancel_live_unfinished,
        "change_amount": Refused(AMOUNT_ONLY_LIVE),
        "extend_enabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "extend_disabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "change_method": _expect_method_changed(pg_cancel=True, pg_checked=True),
        "mark_shipped": Refused(SHIP_ONLY_COMPLETED),
    },
    S.AUTHORIZED: {
        "capture": expect_captured,
        "cancel": expect_cancel_authorization,
        "change_amount": expect_amount_changed,
        "extend_enabled": expect_extended,
        "extend_disabled": Refused(EXTEND_DISABLED),
        "change_method": Refused(METHOD_ONLY_FROM),
        "mark_shipped": Refused(SHIP_ONLY_COMPLETED),
    },
    S.CAPTURED: {
        "capture": Refused(CAPTURE_ONLY_AUTHORIZED),
        "cancel": expect_cancel_capture_at_pg,
        "change_amount": expect_amount_changed,
        "extend_enabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "extend_disabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "change_method": Refused(METHOD_ONLY_FROM),
        "mark_shipped": expect_shipped,
    },
    S.CANCELLED: {
        "capture": Refused(CANCELLED_ORDER),
        "cancel": Refused(CANCELLED_ORDER),
        "change_amount": Refused(CANCELLED_ORDER),
        "extend_enabled": Refused(CANCELLED_ORDER),
        "extend_disabled": Refused(CANCELLED_ORDER),
        "change_method": _expect_method_changed(pg_cancel=False, pg_checked=True),
        "mark_shipped": Refused(CANCELLED_ORDER),
    },
    S.CAPTURE_FAILED: {
        "capture": Refused(CAPTURE_ONLY_AUTHORIZED),
        "cancel": expect_capture_failed_cancel_rechecked,
        "change_amount": Refused(AMOUNT_ONLY_LIVE),
        "extend_enabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "extend_disabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "change_method": Refused(METHOD_ONLY_FROM),
        "mark_shipped": Refused(SHIP_ONLY_COMPLETED),
    },
    S.PAYMENT_FAILED: {
        "capture": Refused(CAPTURE_ONLY_AUTHORIZED),
        "cancel": _expect_cancel_nothing_at_pg("PAYFAIL"),
        "change_amount": Refused(AMOUNT_ONLY_LIVE),
        "extend_enabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "extend_disabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "change_method": _expect_method_changed(pg_cancel=False, pg_checked=False),
        "mark_shipped": Refused(SHIP_ONLY_COMPLETED),
    },
    S.AUTH_EXPIRED: {
        "capture": Refused(CAPTURE_ONLY_AUTHORIZED),
        "cancel": _expect_cancel_nothing_at_pg("EXPIRED"),
        "change_amount": Refused(AMOUNT_ONLY_LIVE),
        "extend_enabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "extend_disabled": Refused(EXTEND_ONLY_AUTHORIZED),
        "change_method": _expect_method_changed(pg_cancel=False, pg_checked=False),
        "mark_shipped": Refused(SHIP_ONLY_COMPLETED),
    },
}
CELLS = [(state, op) for state in TABLE for op in TABLE[state]]


def test_the_table_covers_every_state_and_operation():
    assert set(TABLE) == set(WALLET_STATES) and len(TABLE) == 7
    for state, row in TABLE.items():
        assert set(row) == set(OPERATIONS), state


@pytest.mark.parametrize(("state", "op"), CELLS, ids=[f"{state}-{op}" for state, op in CELLS])
def test_state_operation(state, op, wallet_in, shop, sandbox, wallet_clock, actor):
    cell = Cell(wallet_in(state, amount=AMOUNT), shop, sandbox, wallet_clock, actor)
    prepare, act = OPERATIONS[op]
    prepare(cell)
    cell.reload()
    before = Payment.objects.get(pk=cell.order.payment_id)
    expected = TABLE[state][op]
    cell.pg_before = cell.pg()
    sandbox.clear_calls()

    if isinstance(expected, Refused):
        unchanged = snapshot(cell.order, sandbox)
        with pytest.raises(expected.error, match=re.escape(expected.phrase)):
            act(cell)
        assert snapshot(cell.order, sandbox) == unchanged, "a refused operation changes nothing"
        assert mutating_calls(sandbox) == [], "a refused operation never reaches the PG"
        return

    try:
        result = act(cell)
    except ChangedMeanwhile as exc:
        result = exc
    cell.reload()
    expected(cell, before, result)


# --- cancel: the PG first, the PG's window, shipping, several addresses --------------------------------------


def test_needs_confirmation_approved_meanwhile_becomes_authorized_not_cancelled(wallet_in, sandbox, actor):
    """要確認 also covers "the link failed mid-payment": the buyer finished at the wallet after all."""
    order = wallet_in(S.NEEDS_CONFIRMATION)
    sandbox.wallet_approve(order.payment.access_id)  # the wallet approved; nobody told us
    sandbox.clear_calls()

    with pytest.raises(ChangedMeanwhile, match=re.escape("The PG shows this payment as AUTH; it is now “Authorized”")):
        services.cancel_payment(order.payment, by=actor)

    assert apis_called(sandbox) == ["SearchTradeMulti"], "queried, and nothing cancelled on the old view"
    payment = fresh(order).payment
    assert payment.status == Status.AUTHORIZED and payment.authorized_at is not None
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "AUTH"
    assert not payment.operations.filter(kind=OperationKind.CANCEL).exists()

    # Looked at again, it is a 仮売上: its cancel is executed at the PG.
    services.cancel_payment(payment, by=actor)
    payment.refresh_from_db()
    assert payment.status == Status.CANCELLED
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "CANCEL"


def test_capture_failed_is_restored_to_authorized_by_sync_when_the_pg_still_says_auth(wallet_in, sandbox, actor):
    order = wallet_in(S.CAPTURE_FAILED)
    version = order.payment.version
    result = services.sync_payment(order.payment, actor=actor)
    payment = fresh(order).payment
    assert result.gateway_status == "AUTH" and result.corrections
    assert payment.status == Status.AUTHORIZED and payment.version > version
    assert payment.captured_amount == 0

    sandbox.clear_calls()
    services.capture_payment(payment, by=actor)  # and it can be captured again
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED and payment.captured_amount == AMOUNT
    assert [c["api"] for c in mutating_calls(sandbox)] == ["RecruitSales"]


def test_captured_cancel_on_the_last_day_of_the_pg_window_is_executed_at_the_pg(shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=AMOUNT)  # captured 2031-04-10 10:00 JST
    wallet_clock.move_to(jst(2031, 5, 31, 23, 59))  # end of the following month
    plan = services.preview(order.payment, OperationKind.CANCEL, by=actor)
    assert "the PG refunds ¥5,000 to the buyer. Do not refund by hand." in plan.explanation
    sandbox.clear_calls()
    services.cancel_payment(order.payment, by=actor)
    payment = fresh(order).payment
    assert payment.status == Status.CANCELLED and payment.refunded_amount == AMOUNT
    assert [c["api"] for c in mutating_calls(sandbox)] == ["RecruitCancel"]
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "CANCEL"
    assert not RefundTask.objects.filter(payment=payment).exists()


@pytest.mark.parametrize("later", [jst(2031, 6, 1, 0, 0, 30), jst(2031, 6, 10, 10, 0)],
                         ids=["first-moment-after-the-window", "two-months-after-capture"])
def test_captured_cancel_after_the_pg_window_opens_a_manual_refund_task(later, shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=AMOUNT)  # captured 2031-04-10 10:00 JST; PG window ends 05-31
    wallet_clock.move_to(jst(2031, 4, 11, 9, 0))
    services.record_amount_change(order.payment, new_amount=NEW_AMOUNT, by=actor)
    services.send_amount_change(order.payment, by=actor)  # the buyer was already refunded ¥1,000 by the PG
    wallet_clock.move_to(later)

    plan = services.preview(fresh(order).payment, OperationKind.CANCEL, by=actor)
    assert "A manual refund task of ¥4,000 is opened: refund the buyer by hand." in plan.explanation
    sandbox.clear_calls()
    services.cancel_payment(fresh(order).payment, by=actor)

    assert mutating_calls(sandbox) == [], "the PG no longer cancels it: nothing is sent"
    payment = fresh(order).payment
    assert payment.status == Status.CANCELLED
    assert (payment.captured_amount, payment.refunded_amount) == (0, AMOUNT)
    [task] = RefundTask.objects.filter(payment=payment)
    assert (task.amount, task.status, task.payee, task.method) == (
        NEW_AMOUNT, RefundTaskStatus.OPEN, "山田 花子", Method.RECRUIT)
    assert "refund the buyer by hand" in task.reason
    op = payment.operations.get(kind=OperationKind.CANCEL)
    assert op.gateway_job == "MANUAL" and op.state == OperationState.SUCCEEDED
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "SALES"  # still, at the PG

    # The status sync (batch or the admin's status check) sees SALES at the PG: the manual cancel stands.
    services.sync_payment(payment, actor=actor)
    payment.refresh_from_db()
    assert payment.status == Status.CANCELLED
    assert (payment.captured_amount, payment.refunded_amount) == (0, AMOUNT)
    assert Order.objects.get(pk=order.pk).fulfilment_status == Fulfilment.CANCELLED
    assert RefundTask.objects.filter(payment=payment).count() == 1


def test_shipped_order_cancel_is_refused_until_the_goods_came_back(shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=AMOUNT)
    mark_shipped(order, carrier="佐川急便", slip_number="1111-2222-3333", by=actor)
    order = fresh(order)
    unchanged = snapshot(order, sandbox)
    sandbox.clear_calls()

    with pytest.raises(InvalidTransition, match=re.escape(SHIPPED_RULE % "Payment completed")):
        services.cancel_payment(order.payment, by=actor)
    assert snapshot(order, sandbox) == unchanged and mutating_calls(sandbox) == []

    wallet_clock.advance(timedelta(days=3))
    assert mark_returned(order, by=actor) == 1
    services.cancel_payment(fresh(order).payment, by=actor)
    payment = fresh(order).payment
    assert payment.status == Status.CANCELLED and payment.refunded_amount == AMOUNT
    assert [c["api"] for c in mutating_calls(sandbox)] == ["RecruitCancel"]


def test_multi_address_order_shipped_to_one_address_is_cancelled_whole_order_only(shop, sandbox, wallet_clock,
                                                                                  actor):
    order = captured(shop, sandbox, amount=AMOUNT, addresses=("東京都千代田区1-1", "大阪府大阪市北区2-2"))
    mark_shipped(order, carrier="ヤマト運輸", slip_number="5555-6666-7777", by=actor)  # the first address only
    order = fresh(order)
    assert [s.shipped_at is not None for s in order.shipments.order_by("pk")] == [True, False]
    facts = facts_for(order.payment, wallet_clock.now)
    assert facts.multi_address and facts.whole_order, "a cancel covers the whole order (注文全キャンセル)"
    unchanged = snapshot(order, sandbox)
    sandbox.clear_calls()

    with pytest.raises(InvalidTransition, match=re.escape(SHIPPED_RULE % "Payment completed")):
        services.cancel_payment(order.payment, by=actor)
    assert snapshot(order, sandbox) == unchanged and mutating_calls(sandbox) == []
    # One address at a time is never offered, whatever is shipped.
    one_address = availability(WalletOperation.CANCEL, facts_for(order.payment, wallet_clock.now, whole_order=False))
    assert not one_address.allowed and "only be cancelled as a whole (注文全キャンセル)" in one_address.reason

    # The shipped goods come back: the whole order is cancelled, both addresses with it, at the PG.
    mark_returned(order, by=actor)
    services.cancel_payment(fresh(order).payment, by=actor)
    payment = fresh(order).payment
    assert payment.status == Status.CANCELLED
    assert [c["api"] for c in mutating_calls(sandbox)] == ["RecruitCancel"]
    assert Order.objects.get(pk=order.pk).fulfilment_status == Fulfilment.CANCELLED


def test_staff_without_cancel_permission_changes_nothing(shop, sandbox, wallet_clock):
    from payments.errors import NotPermitted

    order = captured(shop, sandbox, amount=AMOUNT)
    staff = Actor.for_user(member(shop, "staff"))
    unchanged = snapshot(order, sandbox)
    sandbox.clear_calls()
    with pytest.raises(NotPermitted):
        services.cancel_payment(order.payment, by=staff)
    assert snapshot(order, sandbox) == unchanged and mutating_calls(sandbox) == []


# --- the authorization period ------------------------------------------------------------------------------------


def test_extended_authorization_is_still_capturable_after_the_original_period(shop, sandbox, wallet_clock, actor):
    shop.wallet_auth_extension_enabled = True
    shop.save(update_fields=["wallet_auth_extension_enabled"])
    order = authorized(shop, sandbox, amount=AMOUNT)
    wallet_clock.advance(timedelta(days=60))  # goods awaiting stock
    services.extend_authorization(order.payment, by=actor)
    wallet_clock.advance(timedelta(days=40))  # 100 days after the approval: past the original 90

    services.sync_payment(fresh(order).payment, actor=actor)
    payment = fresh(order).payment
    assert payment.status == Status.AUTHORIZED
    assert payment.authorization_expires_at > wallet_clock.now
    services.capture_payment(payment, by=actor)
    assert fresh(order).payment.status == Status.CAPTURED
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "SALES"


def test_capture_refused_because_the_pg_expired_it_is_settled_by_the_sync(shop, sandbox, wallet_clock, actor):
    """Our record still says 仮売上 when the PG's period ends; the PG refuses the capture (売上失敗), and the
    status sync then applies the PG's word: 仮売上期限切れ, cancellable without anything to do at the PG."""
    order = authorized(shop, sandbox, amount=AMOUNT)
    wallet_clock.advance(timedelta(days=settings.WALLET_AUTH_VALIDITY_DAYS, hours=1))
    with pytest.raises(GatewayDeclined):
        services.capture_payment(fresh(order).payment, by=actor)
    assert fresh(order).payment.status == Status.CAPTURE_FAILED

    services.sync_payment(fresh(order).payment, actor=actor)
    assert fresh(order).payment.status == Status.AUTH_EXPIRED
    sandbox.clear_calls()
    services.cancel_payment(fresh(order).payment, by=actor)
    assert fresh(order).payment.status == Status.CANCELLED
    assert mutating_calls(sandbox) == []
