"""Every card operation end to end: service → GMO adapter → HTTP → sandbox, and back."""

import pytest
from django.utils import timezone

from payments import services
from payments.actors import Actor
from payments.errors import (
    ChangedMeanwhile,
    GatewayDeclined,
    InvalidAmount,
    InvalidToken,
    InvalidTransition,
    NotPermitted,
    PaymentBusy,
)
from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
from shops.models import CaptureMode
from tests.factories import VISA_DECLINED, card_payment, member

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("test")


def snapshot(payment):
    payment = Payment.objects.get(pk=payment.pk)
    return (payment.status, payment.amount, payment.captured_amount, payment.refunded_amount, payment.version)


def gateway_calls(sandbox, api=None):
    return [c for c in sandbox.calls(api) if c["api"] != "SearchTrade"] if api is None else sandbox.calls(api)


def test_authorize_then_capture(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=5500)
    assert payment.status == Status.AUTHORIZED
    assert payment.access_id and payment.authorized_at
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "AUTH"

    op = services.capture_payment(payment, by=Actor.for_user(operator))
    payment.refresh_from_db()
    assert op.state == OperationState.SUCCEEDED and op.gateway_job == "SALES"
    assert (payment.status, payment.captured_amount) == (Status.CAPTURED, 5500)
    assert op.actor == operator
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "SALES"


def test_immediate_capture_shop(shop, sandbox):
    shop.capture_mode = CaptureMode.CAPTURE
    shop.save()
    payment = card_payment(shop, sandbox, amount=1200)
    assert payment.status == Status.CAPTURED_IMMEDIATELY
    assert payment.captured_amount == 1200
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "CAPTURE"


def test_declined_card_fails_payment_with_gateway_code(shop, sandbox):
    payment = card_payment(shop, sandbox, authorize=False)
    with pytest.raises(GatewayDeclined) as exc:
        services.authorize_payment(payment, token=sandbox.create_token(VISA_DECLINED), by=SYSTEM)
    assert "42G020000" in exc.value.gateway_code
    payment.refresh_from_db()
    assert payment.status == Status.FAILED
    op = payment.operations.get()
    assert op.state == OperationState.FAILED and "残高不足" in op.error_message


@pytest.mark.parametrize("token", ["4111111111111111", "4111 1111 1111 1111", "short", "", None, "x" * 300])
def test_malformed_token_is_refused_before_any_call(shop, sandbox, token):
    payment = card_payment(shop, sandbox, authorize=False)
    with pytest.raises(InvalidToken):
        services.authorize_payment(payment, token=token, by=SYSTEM)
    assert snapshot(payment)[0] == Status.UNPROCESSED
    assert not PaymentOperation.objects.exists()
    assert sandbox.calls() == []


def test_cancel_authorization_same_day_is_void(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    op = services.cancel_payment(payment, by=Actor.for_user(operator))
    assert op.gateway_job == "VOID"
    assert "取消 (VOID)" in op.explanation
    payment.refresh_from_db()
    assert payment.status == Status.VOIDED
    assert sandbox.calls("AlterTran")[-1]["params"]["JobCd"] == "VOID"


def test_cancel_capture_from_earlier_day_is_return_and_refunds(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    services.capture_payment(payment, by=SYSTEM)
    # The sale happened two days ago (in this month, Tokyo time).
    two_days_ago = timezone.now() - timezone.timedelta(days=2)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=two_days_ago, captured_at=two_days_ago)
    payment.refresh_from_db()
    op = services.cancel_payment(payment, by=Actor.for_user(operator))
    expected = "RETURN" if two_days_ago.astimezone(timezone.get_current_timezone()).month == \
        timezone.localtime().month else "RETURNX"
    assert op.gateway_job == expected
    payment.refresh_from_db()
    assert (payment.captured_amount, payment.refunded_amount) == (0, 3000)
    assert "¥3,000" in op.explanation


def test_change_amount_authorized_keeps_authorization(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    op = services.change_amount(payment, new_amount=2500, job="AUTH", by=Actor.for_user(operator))
    payment.refresh_from_db()
    assert (payment.status, payment.amount, op.previous_amount) == (Status.AUTHORIZED, 2500, 3000)
    change = sandbox.calls("ChangeTran")[-1]["params"]
    assert (change["JobCd"], change["Amount"]) == ("AUTH", "2500")
    assert sandbox.transaction(payment.gateway_order_id)["amount"] == 2500


def test_change_amount_authorized_to_immediate_capture(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    services.change_amount(payment, new_amount=3500, job="CAPTURE", by=Actor.for_user(operator))
    payment.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (Status.CAPTURED_IMMEDIATELY, 3500)


def test_decrease_of_a_capture_is_a_partial_refund(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    services.capture_payment(payment, by=SYSTEM)
    payment.refresh_from_db()
    with pytest.raises(InvalidTransition):  # a sale never goes back to an authorization
        services.change_amount(payment, new_amount=2000, job="AUTH", by=Actor.for_user(operator))
    op = services.change_amount(payment, new_amount=2000, by=Actor.for_user(operator))
    payment.refresh_from_db()
    assert op.gateway_job == "CAPTURE"
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        Status.CAPTURED_IMMEDIATELY, 2000, 1000)


def test_change_to_zero_is_a_full_cancel(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    op = services.change_amount(payment, new_amount=0, by=Actor.for_user(operator))
    assert op.kind == OperationKind.CANCEL and op.gateway_job == "VOID"
    assert sandbox.calls("ChangeTran") == []


@pytest.mark.parametrize("amount", [-1, 10_000_000, 3000, 1.5, "100", True])
def test_bad_amounts_change_nothing(shop, sandbox, operator, amount):
    payment = card_payment(shop, sandbox, amount=3000)
    before = snapshot(payment)
    calls = len(sandbox.calls())
    with pytest.raises(InvalidAmount):
        services.change_amount(payment, new_amount=amount, by=Actor.for_user(operator))
    assert snapshot(payment) == before
    assert len(sandbox.calls()) == calls


def test_reauthorize_after_cancel_restarts_dates(shop, sandbox, operator):
    payment = card_payment(shop, sandbox, amount=3000)
    services.cancel_payment(payment, by=SYSTEM)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=timezone.now() - timezone.timedelta(days=3))
    payment.refresh_from_db()
    services.reauthorize_payment(payment, job="AUTH", by=Actor.for_user(operator))
    payment.refresh_from_db()
    assert payment.status == Status.AUTHORIZED
    assert timezone.now() - payment.authorized_at < timezone.timedelta(minutes=1)
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "AUTH"
    # Re-authorized today: a cancel is VOID again.
    assert services.cancel_payment(payment, by=SYSTEM).gateway_job == "VOID"


def test_capture_of_voided_payment_is_refused_without_calling(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    services.cancel_payment(payment, by=SYSTEM)
    payment.refresh_from_db()
    before, calls = snapshot(payment), len(sandbox.calls())
    with pytest.raises(InvalidTransition):
        services.capture_payment(payment, by=Actor.for_user(operator))
    assert snapshot(payment) == before and len(sandbox.calls()) == calls


def test_expired_authorization_cannot_be_captured(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=timezone.now() - timezone.timedelta(days=91))
    payment.refresh_from_db()
    with pytest.raises(InvalidTransition, match="90"):
        services.capture_payment(payment, by=Actor.for_user(operator))
    assert sandbox.calls("AlterTran") == []


def test_expire_checks_the_gateway_first(shop, sandbox):
    payment = card_payment(shop, sandbox)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=timezone.now() - timezone.timedelta(days=91))
    payment.refresh_from_db()
    op = services.expire_authorization(payment, by=SYSTEM)
    payment.refresh_from_db()
    assert op.kind == OperationKind.EXPIRE and payment.status == Status.AUTH_EXPIRED
    assert len(sandbox.calls("SearchTrade")) == 1
    # From 仮売上期限切れ the operator can still cancel (RETURN: an earlier day).
    assert services.cancel_payment(payment, by=SYSTEM).gateway_job == "RETURN"


def test_expire_syncs_instead_when_the_gateway_says_captured(shop, sandbox):
    payment = card_payment(shop, sandbox)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=timezone.now() - timezone.timedelta(days=91))
    sandbox.patch_transaction(payment.gateway_order_id, status="SALES")
    payment.refresh_from_db()
    assert services.expire_authorization(payment, by=SYSTEM) is None
    payment.refresh_from_db()
    assert payment.status == Status.CAPTURED


def test_gateway_refusing_capture_as_expired_wins(shop, sandbox, operator):
    """Our validity setting says fine; the gateway says expired (E01420010): the gateway wins."""
    shop.authorization_validity_days = 180
    shop.save()
    payment = card_payment(shop, sandbox)
    sandbox.set_clock(offset_seconds=91 * 86400)
    Payment.objects.filter(pk=payment.pk).update(authorized_at=timezone.now() - timezone.timedelta(days=91))
    payment.refresh_from_db()
    with pytest.raises(GatewayDeclined) as exc:
        services.capture_payment(payment, by=Actor.for_user(operator))
    assert "E01420010" in exc.value.gateway_code
    payment.refresh_from_db()
    assert payment.status == Status.AUTH_EXPIRED


def test_gateway_error_leaves_everything_unchanged(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    before = snapshot(payment)
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "error", "err_code": "E92", "err_info": "E92000001",
                               "times": 1}])
    with pytest.raises(GatewayDeclined) as exc:
        services.capture_payment(payment, by=Actor.for_user(operator))
    assert exc.value.gateway_code == "E92000001"
    status, amount, captured, refunded, version = snapshot(payment)
    assert (status, amount, captured, refunded) == before[:4]
    op = payment.operations.filter(kind=OperationKind.CAPTURE).get()
    assert op.state == OperationState.FAILED and "混雑" in op.error_message
    assert sandbox.transaction(payment.gateway_order_id)["status"] == "AUTH"
    # Not busy afterwards: the refusal was final, a new attempt goes through.
    payment.refresh_from_db()
    services.capture_payment(payment, by=Actor.for_user(operator))


def test_stale_view_gets_changed_meanwhile(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    stale = Payment.objects.get(pk=payment.pk)
    services.change_amount(payment, new_amount=2000, by=SYSTEM)
    with pytest.raises(ChangedMeanwhile):
        services.capture_payment(stale, by=Actor.for_user(operator))


def test_unresolved_operation_blocks_others(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    PaymentOperation.objects.create(payment=payment, kind=OperationKind.CAPTURE, idempotency_key="k1",
                                    state=OperationState.UNKNOWN, actor_label="x")
    with pytest.raises(PaymentBusy):
        services.cancel_payment(payment, by=Actor.for_user(operator))
    assert sandbox.calls("AlterTran") == []


def test_user_of_another_shop_is_refused(shop, other_shop, sandbox):
    payment = card_payment(shop, sandbox)
    outsider = member(other_shop, "admin")
    with pytest.raises(NotPermitted):
        services.capture_payment(payment, by=Actor.for_user(outsider))
    assert snapshot(payment)[0] == Status.AUTHORIZED and sandbox.calls("AlterTran") == []


def test_staff_may_capture_but_not_cancel(shop, sandbox, staff):
    payment = card_payment(shop, sandbox)
    with pytest.raises(NotPermitted):
        services.cancel_payment(payment, by=Actor.for_user(staff))
    services.capture_payment(payment, by=Actor.for_user(staff))


def test_same_idempotency_key_replays_without_a_second_call(shop, sandbox, operator):
    payment = card_payment(shop, sandbox)
    first = services.capture_payment(payment, by=Actor.for_user(operator), idempotency_key="cap-1")
    payment.refresh_from_db()
    again = services.capture_payment(payment, by=Actor.for_user(operator), idempotency_key="cap-1")
    assert first.pk == again.pk
    assert len(sandbox.calls("AlterTran")) == 1


def test_ledger_rows_are_append_only(shop, sandbox):
    payment = card_payment(shop, sandbox)
    op = payment.operations.get()
    op.amount = 1
    with pytest.raises(RuntimeError):
        op.save()
    with pytest.raises(RuntimeError):
        op.delete()
