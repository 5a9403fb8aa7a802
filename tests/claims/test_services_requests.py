"""Customer-side cancels (SPEC 4.4): alone in 入金待ち / 新規注文 / 配送遅延; a request in 配送準備 that the seller
approves, refuses or answers with a withdrawal request; expired withdrawal requests surface; the board."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from claims import services as claims
from claims.models import ClaimKind, ClaimState, Party, Reason, RefundState
from claims.selectors import board_counts, expired_withdrawals
from orders.models import Delivery
from payments.errors import ChangedMeanwhile, InvalidTransition, NotPermitted, PaymentError

from .helpers import SYSTEM, card_order, sent_message

pytestmark = pytest.mark.usefixtures("english")  # match the messages' English wording


def request_on_preparing(shop, sandbox):
    order = card_order(shop, sandbox, state=Delivery.PREPARING)
    sandbox.clear_calls()
    claim = claims.customer_cancel(order, by=claims.customer_actor(order), note="不要になりました")
    assert claim.state == ClaimState.REQUESTED and claim.kind == ClaimKind.CANCEL
    assert claim.requested_by == Party.CUSTOMER and claim.reason == Reason.CUSTOMER_REQUEST
    assert not sandbox.calls("AlterTran")  # nothing moves before the seller answers
    return order, claim


@pytest.mark.parametrize("state", [Delivery.NEW, Delivery.DELAYED])
def test_customer_cancels_alone(shop, sandbox, state):
    order = card_order(shop, sandbox, state=state)
    claim = claims.customer_cancel(order, by=claims.customer_actor(order))
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.DONE


@pytest.mark.parametrize("state", [Delivery.SHIPPING, Delivery.DELIVERED])
def test_customer_cannot_cancel_a_shipped_order(shop, sandbox, state):
    order = card_order(shop, sandbox, state=state)
    with pytest.raises(InvalidTransition, match="return"):
        claims.customer_cancel(order, by=claims.customer_actor(order))
    assert not order.claims.exists()


def test_approved_request_is_cancelled_with_the_refund(shop, sandbox):
    _order, claim = request_on_preparing(shop, sandbox)
    done = claims.approve_cancel_request(claim, by=SYSTEM, seller_memo="承知しました")
    assert done.state == ClaimState.DONE and done.refund_linked and done.seller_memo == "承知しました"
    with pytest.raises(ChangedMeanwhile):
        claims.approve_cancel_request(claim, by=SYSTEM)


def test_seller_cancel_with_the_customers_reason_completes_the_request(shop, sandbox):
    order, claim = request_on_preparing(shop, sandbox)
    sent_message(order)
    done = claims.seller_cancel(order, reason=Reason.CUSTOMER_REQUEST, seller_memo="ご依頼によりキャンセル", by=SYSTEM)
    assert done.pk == claim.pk and done.state == ClaimState.DONE


def test_customer_reason_needs_a_customer_request(shop, sandbox):
    order = card_order(shop, sandbox)
    sent_message(order)
    with pytest.raises(InvalidTransition, match="needs a cancel request"):
        claims.seller_cancel(order, reason=Reason.CUSTOMER_REQUEST, seller_memo="", by=SYSTEM)
    assert not order.claims.exists()


def test_seller_reason_while_a_request_is_open_is_changed_meanwhile(shop, sandbox):
    order, _claim = request_on_preparing(shop, sandbox)
    sent_message(order)
    with pytest.raises(ChangedMeanwhile):
        claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="", by=SYSTEM)


def test_withdrawal_request_then_withdrawn(shop, sandbox):
    order, claim = request_on_preparing(shop, sandbox)
    deadline = timezone.now() + timedelta(days=2)
    with pytest.raises(PaymentError):
        claims.ask_withdrawal(claim, deadline=deadline, seller_memo=" ", by=SYSTEM)
    with pytest.raises(PaymentError, match="future"):
        claims.ask_withdrawal(claim, deadline=timezone.now() - timedelta(hours=1), seller_memo="発送済み", by=SYSTEM)
    asked = claims.ask_withdrawal(claim, deadline=deadline, seller_memo="本日発送のため撤回をお願いします", by=SYSTEM)
    assert asked.state == ClaimState.WITHDRAWAL_REQUESTED and asked.withdrawal_deadline == deadline

    withdrawn = claims.withdraw_request(asked, by=claims.customer_actor(order))
    assert withdrawn.state == ClaimState.WITHDRAWN and withdrawn.completed_at
    assert not sandbox.calls("AlterTran")


def test_refused_request(shop, sandbox):
    _order, claim = request_on_preparing(shop, sandbox)
    with pytest.raises(PaymentError):
        claims.refuse_cancel_request(claim, seller_memo="", by=SYSTEM)
    refused = claims.refuse_cancel_request(claim, seller_memo="受注生産品のため", by=SYSTEM)
    assert refused.state == ClaimState.REFUSED and refused.seller_memo == "受注生産品のため"


def test_expired_withdrawal_requests_surface_and_the_board_counts_them(shop, sandbox, other_shop):
    _order, claim = request_on_preparing(shop, sandbox)
    claims.ask_withdrawal(claim, deadline=timezone.now() + timedelta(hours=3), seller_memo="撤回をお願いします",
                          by=SYSTEM)
    rows = {row.key: row for row in board_counts([shop])}
    assert rows["withdrawal_requested"].count == 1 and rows["withdrawal_pending"].count == 0
    assert not expired_withdrawals([shop]).exists()

    with time_machine.travel(timezone.now() + timedelta(hours=4)):
        assert list(expired_withdrawals([shop])) == [claim]
        rows = {row.key: row for row in board_counts([shop])}
        assert rows["withdrawal_requested"].count == 0 and rows["withdrawal_pending"].count == 1
        assert rows["withdrawal_pending"].query == "withdrawal=expired"
    assert not expired_withdrawals([other_shop]).exists()
    assert all(row.count == 0 for row in board_counts([other_shop]))


def test_board_counts_per_type_and_state(shop, sandbox, django_assert_num_queries):
    card_done = card_order(shop, sandbox)
    claims.customer_cancel(card_done, by=claims.customer_actor(card_done))
    request_on_preparing(shop, sandbox)
    with django_assert_num_queries(1):
        rows = board_counts([shop])
    counts = {row.key: row.count for row in rows}
    assert counts["cancel_done"] == 1 and counts["cancel_requested"] == 1 and counts["refund_done"] == 1
    assert {row.key: row.query for row in rows}["cancel_requested"] == "kind=cancel&state=requested"
    assert len(rows) == 13


def test_a_viewer_cannot_answer_a_request(shop, sandbox):
    from payments.actors import Actor
    from tests.factories import member

    _order, claim = request_on_preparing(shop, sandbox)
    viewer = Actor.for_user(member(shop, "viewer"))
    with pytest.raises(NotPermitted):
        claims.approve_cancel_request(claim, by=viewer)
    claim.refresh_from_db()
    assert claim.state == ClaimState.REQUESTED
