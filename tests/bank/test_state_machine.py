"""Bank transfer payments (SPEC 3.4): 入金待ち → 入金済 only by "mark paid", for exactly the amount, by someone
allowed to, in the payment's own shop; every refusal changes nothing."""

import pytest
from django.utils import timezone

from payments import services
from payments.actors import Actor
from payments.bank_transfer import RECEIVED, InvalidPayer
from payments.errors import ChangedMeanwhile, InvalidAmount, InvalidTransition, NotPermitted
from payments.models import Method, OperationKind, OperationState, Payment, PaymentOperation, Status, status_label
from tests.bank.helpers import SYSTEM, bank_payment
from tests.factories import member

pytestmark = pytest.mark.django_db


def snapshot(payment):
    payment = Payment.objects.get(pk=payment.pk)
    return (payment.status, payment.amount, payment.captured_amount, payment.captured_at, payment.version,
            payment.operations.count())


def test_created_awaiting_its_transfer(shop, english):
    payment = bank_payment(shop, amount=7000, kana="ヤマダ　タロウ")
    assert payment.method == Method.BANK_TRANSFER and payment.is_bank_transfer
    assert payment.status == Status.AWAITING_PAYMENT
    assert payment.payer_kana == "ヤマダ　タロウ" and payment.gateway_order_id
    assert payment.get_status_display() == "Awaiting transfer"
    assert status_label(Method.BANK_TRANSFER, Status.PAID) == "Transfer received"
    assert status_label(Method.BANK_TRANSFER, Status.CANCELLED) == "Cancelled"
    # The other methods keep their own words for the same values.
    assert status_label(Method.KONBINI, Status.AWAITING_PAYMENT) == "Awaiting payment"
    assert not payment.operations.exists()


@pytest.mark.parametrize("amount", [0, -1, 1.5, "5000", True])
def test_amount_must_be_whole_yen_of_at_least_one(shop, amount):
    with pytest.raises(InvalidAmount):
        bank_payment(shop, amount=amount)
    assert not Payment.objects.exists()


def test_kana_that_a_bank_could_never_print_is_refused(shop):
    with pytest.raises(InvalidPayer):
        bank_payment(shop, kana="山田太郎")
    assert not Payment.objects.exists()
    assert bank_payment(shop, kana="").payer_kana == ""  # unknown: matched by hand
    assert bank_payment(shop, kana="やまだ たろう", reference="R2").payer_kana == "やまだ たろう"


def test_mark_paid_books_the_transfer_in_the_ledger(shop, staff):
    payment = bank_payment(shop, amount=5000)
    op = services.mark_transfer_received(payment, by=Actor.for_user(staff), note="通帳で確認")
    payment.refresh_from_db()
    assert payment.status == Status.PAID
    assert payment.captured_amount == 5000 and payment.captured_at is not None
    assert op.kind == OperationKind.MARK_PAID and op.state == OperationState.SUCCEEDED
    assert op.gateway_job == RECEIVED and op.amount == 5000
    assert (op.status_before, op.status_after) == (Status.AWAITING_PAYMENT, Status.PAID)
    assert op.actor_id == staff.pk and op.actor_label == staff.username
    assert "¥5,000" in op.explanation and "通帳で確認" in op.explanation
    assert op.completed_at is not None


def test_mark_paid_at_the_time_the_money_arrived(shop, staff):
    payment = bank_payment(shop)
    when = timezone.now() - timezone.timedelta(days=2)
    services.mark_transfer_received(payment, by=Actor.for_user(staff), received_at=when)
    payment.refresh_from_db()
    assert payment.captured_at == when


def test_mark_paid_only_from_awaiting(shop, staff):
    payment = bank_payment(shop)
    services.mark_transfer_received(payment, by=Actor.for_user(staff))
    before = snapshot(payment)
    with pytest.raises(InvalidTransition):
        services.mark_transfer_received(payment, by=Actor.for_user(staff))
    assert snapshot(payment) == before

    cancelled = bank_payment(shop, reference="REG-2")
    services.cancel_payment(cancelled, by=SYSTEM)
    before = snapshot(cancelled)
    with pytest.raises(InvalidTransition):
        services.mark_transfer_received(cancelled, by=Actor.for_user(staff))
    assert snapshot(cancelled) == before


@pytest.mark.parametrize("amount", [4999, 5001, 10000])
def test_over_or_under_payment_is_refused_and_nothing_changes(shop, staff, amount, english):
    payment = bank_payment(shop, amount=5000)
    before = snapshot(payment)
    with pytest.raises(InvalidAmount) as refused:
        services.mark_transfer_received(payment, by=Actor.for_user(staff), amount=amount)
    assert f"¥{amount:,} was received but this payment is ¥5,000" in refused.value.message
    assert "by hand" in refused.value.message
    assert snapshot(payment) == before
    assert not PaymentOperation.objects.exists()


def test_viewer_and_other_shops_users_are_refused(shop, other_shop):
    payment = bank_payment(shop)
    before = snapshot(payment)
    viewer = member(shop, "viewer")
    stranger = member(other_shop, "admin")
    for user in (viewer, stranger):
        with pytest.raises(NotPermitted):
            services.mark_transfer_received(payment, by=Actor.for_user(user))
    assert snapshot(payment) == before


def test_the_same_request_twice_books_once(shop, staff):
    payment = bank_payment(shop)
    first = services.mark_transfer_received(payment, by=Actor.for_user(staff), idempotency_key="k-1")
    again = services.mark_transfer_received(Payment.objects.get(pk=payment.pk), by=Actor.for_user(staff),
                                            idempotency_key="k-1")
    assert again.pk == first.pk
    assert payment.operations.filter(kind=OperationKind.MARK_PAID).count() == 1


def test_stale_view_is_changed_meanwhile(shop, staff):
    payment = bank_payment(shop)
    stale = Payment.objects.get(pk=payment.pk)
    services.cancel_payment(payment, by=SYSTEM)
    with pytest.raises((ChangedMeanwhile, InvalidTransition)):
        services.mark_transfer_received(stale, by=Actor.for_user(staff))
    assert Payment.objects.get(pk=payment.pk).status == Status.CANCELLED


def test_card_only_operations_do_not_exist_for_a_bank_transfer(shop, operator):
    payment = bank_payment(shop)
    before = snapshot(payment)
    with pytest.raises(InvalidTransition):
        services.capture_payment(payment, by=Actor.for_user(operator))
    with pytest.raises(InvalidTransition):
        services.change_amount(payment, new_amount=4000, by=Actor.for_user(operator))
    assert snapshot(payment) == before


def test_a_card_payment_is_not_marked_paid_by_hand(shop, staff):
    card = services.create_card_payment(shop, amount=5000, actor=SYSTEM)
    with pytest.raises(InvalidTransition):
        services.mark_transfer_received(card, by=Actor.for_user(staff))
