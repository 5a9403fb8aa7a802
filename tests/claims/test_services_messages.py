"""A seller-side cancel needs a sent message to the customer first; a failed send is shown and retryable and
blocks the cancel with a clear message, never silently."""

from __future__ import annotations

import pytest
from django.core import mail

from claims import services as claims
from claims.models import Claim, CustomerMessage, MessageCategory, MessageStatus, Reason
from orders.models import OrderEvent
from payments.errors import InvalidTransition, PaymentError

from .helpers import EMAIL, SYSTEM, card_order, sent_message

pytestmark = pytest.mark.usefixtures("english")  # match the messages' English wording

FAILING = "tests.claims.failing_mail.FailingBackend"


def cancel(order):
    return claims.seller_cancel(order, reason=Reason.OUT_OF_STOCK, seller_memo="在庫切れ", by=SYSTEM)


def test_message_is_mailed_to_the_customer(shop, sandbox):
    order = card_order(shop, sandbox)
    message = sent_message(order, title="在庫切れのお詫び")
    assert message.status == MessageStatus.SENT and message.attempts == 1 and message.sent_at
    [sent] = mail.outbox
    assert sent.to == [EMAIL] and "在庫切れのお詫び" in sent.subject


def test_a_cancel_without_a_message_is_refused_and_changes_nothing(shop, sandbox):
    order = card_order(shop, sandbox)
    with pytest.raises(InvalidTransition, match="Message the customer first"):
        cancel(order)
    assert not Claim.objects.exists()
    assert not sandbox.calls("AlterTran")


def test_a_message_of_another_category_does_not_count(shop, sandbox):
    order = card_order(shop, sandbox)
    claims.message_customer(order, category=MessageCategory.DELIVERY, title="発送について", body="…", by=SYSTEM)
    with pytest.raises(InvalidTransition):
        cancel(order)


def test_a_failed_send_is_visible_blocks_the_cancel_and_can_be_sent_again(shop, sandbox, settings):
    order = card_order(shop, sandbox)
    settings.EMAIL_BACKEND = FAILING

    message = sent_message(order)  # never raises: the failure is recorded on the message

    assert message.status == MessageStatus.FAILED and message.attempts == 1
    assert "SMTPServerDisconnected" in message.last_error
    assert OrderEvent.objects.filter(order=order, message__contains="送信失敗").exists()
    with pytest.raises(InvalidTransition) as refused:
        cancel(order)
    assert "could not be sent" in refused.value.message and "SMTPServerDisconnected" in refused.value.message
    assert not Claim.objects.exists()

    again = claims.resend_message(message, by=SYSTEM)  # still failing: still shown, attempts counted
    assert again.status == MessageStatus.FAILED and again.attempts == 2

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    sent = claims.resend_message(message, by=SYSTEM)
    assert sent.status == MessageStatus.SENT and sent.attempts == 3 and sent.last_error == ""
    assert cancel(order).state == "done"
    with pytest.raises(InvalidTransition, match="already sent"):
        claims.resend_message(sent, by=SYSTEM)


def test_a_message_before_an_earlier_claim_does_not_count_again(shop, sandbox):
    order = card_order(shop, sandbox, state="preparing")
    sent_message(order)
    request = claims.customer_cancel(order, by=claims.customer_actor(order))
    claims.refuse_cancel_request(request, seller_memo="発送準備中のためお受けできません", by=SYSTEM)
    with pytest.raises(InvalidTransition, match="Message the customer first"):
        cancel(order)
    sent_message(order)
    assert cancel(order).state == "done"


@pytest.mark.parametrize("fields", [
    {"category": "nope", "title": "t", "body": "b"},
    {"category": MessageCategory.CANCEL_REFUND, "title": " ", "body": "b"},
    {"category": MessageCategory.CANCEL_REFUND, "title": "t", "body": ""},
    {"category": MessageCategory.CANCEL_REFUND, "title": "t" * 201, "body": "b"},
])
def test_bad_messages_are_refused(shop, sandbox, fields):
    order = card_order(shop, sandbox)
    with pytest.raises(PaymentError):
        claims.message_customer(order, by=SYSTEM, **fields)
    assert not CustomerMessage.objects.exists() and not mail.outbox


def test_an_order_without_e_mail_cannot_be_messaged(shop, sandbox):
    order = card_order(shop, sandbox, email="")
    with pytest.raises(PaymentError, match="no customer e-mail"):
        sent_message(order)
