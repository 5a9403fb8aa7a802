"""SPEC 3.2 amount-change windows at frozen JST moments, through the services and through order editing.

In 仮売上 there is no limit (except: a points-only order is never increased). In 決済完了: not on the capture
day, not 00:00-01:00 the day after, until the end of the following month, and never above the current amount.
The capture here is made on 2031-04-10 at 10:00 JST, so the window ends 2031-05-31 23:59:59 JST.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from orders.editing import LineChange, edit_order
from orders.models import Fulfilment, Order
from payments import services
from payments.actors import Actor
from payments.errors import InvalidTransition
from payments.models import Payment, Status
from tests.factories import wallet_order
from tests.wallet.conftest import BASE, authorized, captured, fresh, jst, mutating_calls, snapshot

# transaction=True: the orders app hears of payment changes on commit (payments.signals), as in production.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

CAPTURE_DAY = "The amount cannot be changed on the day of the capture (2031-04-10, JST)"
BLACKOUT = "The wallet accepts no amount change between 00:00 and 01:00 (JST) on the day after the capture"
PERIOD_OVER = "The amount-change period is over"
ONLY_DECREASE = "After the payment is completed (決済完了) the amount can only be decreased"
POINTS_ONLY = "This order was paid with points only, so its amount can never be increased"
CAPTURE_ONLY_AUTHORIZED = "Only an authorized (仮売上) order can be captured"


def change(order: Order, new_amount: int, actor: Actor) -> Payment:
    """Record the edit, then send it to the PG (the two steps the operator takes)."""
    services.record_amount_change(fresh(order).payment, new_amount=new_amount, by=actor)
    services.send_amount_change(fresh(order).payment, by=actor)
    return fresh(order).payment


def assert_refused(order: Order, sandbox, phrase: str, attempt) -> None:
    unchanged = snapshot(order, sandbox)
    sandbox.clear_calls()
    with pytest.raises(InvalidTransition, match=re.escape(phrase)):
        attempt()
    assert snapshot(order, sandbox) == unchanged, "a refused change changes nothing"
    assert mutating_calls(sandbox) == [], "a refused change never reaches the PG"


def notices(sandbox, order: Order) -> list[tuple[int, int]]:
    return [(n["previous_amount"], n["amount"])
            for n in sandbox.wallet_buyer_notices(fresh(order).payment.gateway_order_id)]


def assert_sent(order: Order, sandbox, old: int, new: int, status: str = Status.CAPTURED) -> None:
    payment = fresh(order).payment
    assert (payment.status, payment.amount, payment.pending_amount) == (status, new, None)
    call = [c for c in mutating_calls(sandbox) if c["api"] == "RecruitChange"][-1]
    assert call["params"]["Amount"] == str(new)
    pg = sandbox.wallet_transaction(payment.gateway_order_id)
    assert pg["amount"] == new and pg["status"] == ("SALES" if status == Status.CAPTURED else "AUTH")
    assert notices(sandbox, order)[-1] == (old, new), "the wallet mails the buyer about each change"


# --- the calendar window after a capture ---------------------------------------------------------------------

REFUSED_AT = [
    (jst(2031, 4, 10, 23, 59), CAPTURE_DAY),
    (jst(2031, 4, 11, 0, 0), BLACKOUT),
    (jst(2031, 4, 11, 0, 30), BLACKOUT),
    (jst(2031, 4, 11, 0, 59, 59), BLACKOUT),
    (jst(2031, 6, 1, 0, 0, 30), PERIOD_OVER),
    (jst(2031, 6, 1, 12, 0), PERIOD_OVER),
]
ALLOWED_AT = [jst(2031, 4, 11, 1, 0), jst(2031, 4, 30, 23, 59), jst(2031, 5, 31, 23, 59), jst(2031, 5, 31, 23, 59, 59)]


@pytest.mark.parametrize(("moment", "phrase"), REFUSED_AT, ids=[f"{m:%m-%d %H:%M:%S}" for m, _ in REFUSED_AT])
def test_decrease_refused_outside_the_window(moment, phrase, shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=5000)
    wallet_clock.move_to(moment)
    assert_refused(order, sandbox, phrase,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=4000, by=actor))
    # The one-step service (change_amount) follows the same rule.
    assert_refused(order, sandbox, phrase,
                   lambda: services.change_amount(fresh(order).payment, new_amount=4000, by=actor))
    assert notices(sandbox, order) == []


@pytest.mark.parametrize("moment", ALLOWED_AT, ids=[f"{m:%m-%d %H:%M:%S}" for m in ALLOWED_AT])
def test_decrease_allowed_inside_the_window(moment, shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=5000)
    wallet_clock.move_to(moment)
    sandbox.clear_calls()
    payment = change(order, 4000, actor)
    assert_sent(order, sandbox, 5000, 4000)
    assert (payment.captured_amount, payment.refunded_amount) == (4000, 1000)


def test_any_number_of_changes_each_mailed_to_the_buyer(shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=5000)
    wallet_clock.move_to(jst(2031, 4, 10, 23, 59))
    assert_refused(order, sandbox, CAPTURE_DAY,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=4000, by=actor))
    wallet_clock.move_to(jst(2031, 4, 11, 0, 30))
    assert_refused(order, sandbox, BLACKOUT,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=4000, by=actor))
    wallet_clock.move_to(jst(2031, 4, 11, 1, 0))
    change(order, 4000, actor)
    assert_sent(order, sandbox, 5000, 4000)
    wallet_clock.move_to(jst(2031, 5, 31, 23, 59))
    payment = change(order, 3500, actor)
    assert_sent(order, sandbox, 4000, 3500)
    assert (payment.captured_amount, payment.refunded_amount) == (3500, 1500)
    wallet_clock.move_to(jst(2031, 6, 1, 0, 0, 30))
    assert_refused(order, sandbox, PERIOD_OVER,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=3000, by=actor))
    assert notices(sandbox, order) == [(5000, 4000), (4000, 3500)]


def test_a_change_recorded_in_the_window_cannot_be_sent_after_it(shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=5000)
    wallet_clock.move_to(jst(2031, 5, 31, 23, 59))
    services.record_amount_change(fresh(order).payment, new_amount=4000, by=actor)
    wallet_clock.move_to(jst(2031, 6, 1, 0, 0, 30))
    assert_refused(order, sandbox, PERIOD_OVER, lambda: services.send_amount_change(fresh(order).payment, by=actor))
    assert fresh(order).payment.pending_amount == 4000  # still shown as unsent


# --- increases -------------------------------------------------------------------------------------------------


def test_increase_refused_after_capture_measured_against_the_current_amount(shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=5000)
    wallet_clock.move_to(jst(2031, 4, 12, 10, 0))
    assert_refused(order, sandbox, "cannot go above the current ¥5,000 (requested ¥5,500)",
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=5500, by=actor))
    change(order, 4000, actor)
    assert_sent(order, sandbox, 5000, 4000)
    # 4500 is below the original 5000, but above what the PG holds now.
    assert_refused(order, sandbox, f"{ONLY_DECREASE}: it cannot go above the current ¥4,000 (requested ¥4,500)",
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=4500, by=actor))
    change(order, 3000, actor)  # a further decrease is fine
    assert_sent(order, sandbox, 4000, 3000)


def test_increase_allowed_while_authorized(shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000)
    sandbox.clear_calls()
    change(order, 6000, actor)
    assert_sent(order, sandbox, 5000, 6000, status=Status.AUTHORIZED)
    services.capture_payment(fresh(order).payment, by=actor)
    [sales] = sandbox.calls("RecruitSales")
    assert sales["params"]["Amount"] == "6000"
    assert fresh(order).payment.captured_amount == 6000


def test_increase_allowed_while_authorized_when_points_paid_only_part(shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000, points=1000)
    assert fresh(order).payment.wallet_points_used == 1000
    change(order, 6000, actor)
    assert_sent(order, sandbox, 5000, 6000, status=Status.AUTHORIZED)


def test_points_only_order_is_never_increased(shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000, points=5000)  # Pontaポイントのみ
    assert fresh(order).payment.wallet_points_used == 5000
    assert_refused(order, sandbox, f"{POINTS_ONLY} (current ¥5,000, requested ¥5,001)",
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=5001, by=actor))
    assert_refused(order, sandbox, POINTS_ONLY,
                   lambda: services.change_amount(fresh(order).payment, new_amount=6000, by=actor))

    services.capture_payment(fresh(order).payment, by=actor)
    wallet_clock.move_to(BASE + timedelta(days=1))
    assert_refused(order, sandbox, POINTS_ONLY,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=6000, by=actor))
    change(order, 4000, actor)  # a decrease is still possible
    assert_sent(order, sandbox, 5000, 4000)


# --- through order editing (orders.editing.edit_order) -----------------------------------------------------------


def _edit(order: Order, unit_price: int, actor: Actor) -> Order:
    order = fresh(order)
    line = order.lines.get()
    return edit_order(order, lines=[LineChange(line.pk, 1, unit_price)], shipping_fee=0, fees=0, by=actor)


def test_edit_order_follows_the_window_then_the_change_is_sent(shop, sandbox, wallet_clock, actor):
    order = captured(shop, sandbox, amount=5000)
    wallet_clock.move_to(jst(2031, 4, 10, 18, 0))
    assert_refused(order, sandbox, CAPTURE_DAY, lambda: _edit(order, 4000, actor))
    assert fresh(order).lines.get().unit_price == 5000 and fresh(order).total == 5000

    wallet_clock.move_to(jst(2031, 4, 11, 0, 45))
    assert_refused(order, sandbox, BLACKOUT, lambda: _edit(order, 4000, actor))

    wallet_clock.move_to(jst(2031, 4, 11, 1, 0))
    edited = _edit(order, 4000, actor)
    assert edited.total == 4000 and edited.lines.get().unit_price == 4000
    payment = fresh(order).payment
    assert (payment.amount, payment.pending_amount) == (5000, 4000), "held as unsent until sent"
    assert mutating_calls(sandbox) == []
    assert "¥5,000 → ¥4,000" in edited.events.latest("id").message

    services.send_amount_change(payment, by=actor)
    assert_sent(order, sandbox, 5000, 4000)

    assert_refused(order, sandbox, ONLY_DECREASE, lambda: _edit(order, 4500, actor))
    assert fresh(order).total == 4000

    wallet_clock.move_to(jst(2031, 6, 1, 9, 0))
    assert_refused(order, sandbox, PERIOD_OVER, lambda: _edit(order, 3000, actor))


def test_edit_order_of_a_points_only_order_cannot_increase(shop, sandbox, wallet_clock, actor):
    order = authorized(shop, sandbox, amount=5000, points=5000)
    assert_refused(order, sandbox, POINTS_ONLY, lambda: _edit(order, 5500, actor))
    assert fresh(order).total == 5000


def test_order_completed_in_immediate_capture_mode_follows_the_same_window(shop, sandbox, wallet_clock, actor):
    """即時売上: the wallet captures at approval (PG status CAPTURE); the window runs from that day."""
    from shops.models import CaptureMode

    shop.capture_mode = CaptureMode.CAPTURE
    shop.save(update_fields=["capture_mode"])
    order = fresh(wallet_order(shop, sandbox, amount=5000))
    payment = order.payment
    assert (payment.status, payment.captured_amount, payment.captured_at) == (Status.CAPTURED, 5000, BASE)
    assert sandbox.wallet_transaction(payment.gateway_order_id)["status"] == "CAPTURE"
    assert order.fulfilment_status == Fulfilment.PAID

    wallet_clock.move_to(jst(2031, 4, 10, 23, 59))
    assert_refused(order, sandbox, CAPTURE_DAY,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=4000, by=actor))
    assert_refused(order, sandbox, CAPTURE_ONLY_AUTHORIZED,
                   lambda: services.capture_payment(fresh(order).payment, by=actor))
    wallet_clock.move_to(jst(2031, 4, 11, 1, 0))
    change(order, 4000, actor)
    pg = sandbox.wallet_transaction(payment.gateway_order_id)
    assert (pg["status"], pg["amount"]) == ("CAPTURE", 4000)
    assert notices(sandbox, order) == [(5000, 4000)]
    assert_refused(order, sandbox, ONLY_DECREASE,
                   lambda: services.record_amount_change(fresh(order).payment, new_amount=4500, by=actor))
