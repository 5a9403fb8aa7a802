"""Staff digests of cancel requests on 配送準備 orders (SPEC 4.4): a few times a day, one mail per window that
had requests, none for requests on 新規注文 orders (they complete by themselves), safe to run twice."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django_celery_beat.models import PeriodicTask

from batches.locking import acquire, release
from claims.digests import BATCH_NAME, recipients, run_claim_digests
from claims.models import Claim, ClaimKind, ClaimState, Party, Reason
from claims.tasks import TASK_NAME, cancel_request_digest
from orders.models import Delivery, Order
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db
JST = ZoneInfo("Asia/Tokyo")


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, 3, hour, minute, tzinfo=JST)


def request_on(shop, number: str, delivery=Delivery.PREPARING) -> Claim:
    """A customer's cancel request as claims.services leaves it: REQUESTED on 配送準備, done at once on 新規注文."""
    order = Order.objects.create(shop=shop, number=number, customer_name="山田 太郎", total=3000,
                                 delivery_status=delivery)
    state = ClaimState.REQUESTED if delivery == Delivery.PREPARING else ClaimState.DONE
    return Claim.objects.create(shop=shop, order=order, kind=ClaimKind.CANCEL, requested_by=Party.CUSTOMER,
                                reason=Reason.CUSTOMER_REQUEST, state=state)


@pytest.fixture
def staff_mails(shop):
    member(shop, "operator", UserFactory(email="operator@shop.example"))
    member(shop, "admin", UserFactory(email="admin@shop.example"))
    member(shop, "staff", UserFactory(email="staff@shop.example"))  # may not cancel: not told
    member(shop, "operator", UserFactory(email=""))  # nowhere to send
    return ["admin@shop.example", "operator@shop.example"]


def run_at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return run_claim_digests()


def test_one_mail_per_window_with_requests_none_for_new_orders(shop, staff_mails):
    assert recipients(shop) == staff_mails
    with time_machine.travel(at(8, 10), tick=False):
        first = request_on(shop, "A-1")
    with time_machine.travel(at(8, 40), tick=False):
        second = request_on(shop, "A-2")
        request_on(shop, "N-1", Delivery.NEW)  # completes by itself: never in a digest

    run_at(at(9))
    assert len(mail.outbox) == 1
    digest = mail.outbox[0]
    assert sorted(digest.to) == staff_mails
    assert "A-1" in digest.body and "A-2" in digest.body and "N-1" not in digest.body
    assert f"/admin/claims/claim/{first.pk}/change/" in digest.body

    run_at(at(9, 1))  # a second run of the same window: nothing new, no mail
    assert len(mail.outbox) == 1

    with time_machine.travel(at(11, 30), tick=False):
        third = request_on(shop, "A-3")
    with time_machine.travel(at(12), tick=False):
        request_on(shop, "N-2", Delivery.NEW)
    run_at(at(13))
    assert len(mail.outbox) == 2
    assert "A-3" in mail.outbox[1].body and "A-1" not in mail.outbox[1].body and "N-2" not in mail.outbox[1].body

    with time_machine.travel(at(15), tick=False):
        request_on(shop, "N-3", Delivery.NEW)  # only a 新規注文 request in this window
    run_at(at(17))
    assert len(mail.outbox) == 2

    first.refresh_from_db(), second.refresh_from_db(), third.refresh_from_db()
    assert first.digested_at == at(9) and second.digested_at == at(9) and third.digested_at == at(13)
    assert not Claim.objects.filter(state=ClaimState.DONE, digested_at__isnull=False).exists()


def test_each_shop_gets_its_own_mail(shop, other_shop, staff_mails):
    member(other_shop, "operator", UserFactory(email="other@shop.example"))
    with time_machine.travel(at(8), tick=False):
        request_on(shop, "A-1")
        request_on(other_shop, "B-1")
    run_at(at(9))
    by_recipients = {tuple(sorted(m.to)): m.body for m in mail.outbox}
    assert set(by_recipients) == {tuple(staff_mails), ("other@shop.example",)}
    assert "A-1" in by_recipients[tuple(staff_mails)] and "B-1" not in by_recipients[tuple(staff_mails)]
    assert "B-1" in by_recipients[("other@shop.example",)]


def test_answered_requests_and_shops_without_recipients_send_nothing(shop, other_shop, staff_mails):
    with time_machine.travel(at(8), tick=False):
        answered = request_on(shop, "A-1")
        request_on(other_shop, "B-1")  # no member with an e-mail: stays waiting, no mail
    Claim.objects.filter(pk=answered.pk).update(state=ClaimState.WITHDRAWAL_REQUESTED)
    run_at(at(9))
    assert mail.outbox == []
    assert Claim.objects.filter(order__number="B-1", digested_at__isnull=True).exists()


def test_a_run_while_another_holds_the_lock_does_nothing(shop, staff_mails):
    with time_machine.travel(at(8), tick=False):
        request_on(shop, "A-1")
    holder = acquire(BATCH_NAME, ttl=timedelta(minutes=5))
    try:
        assert cancel_request_digest() == {"skipped": "another run holds the lock"}
        assert mail.outbox == []
    finally:
        release(BATCH_NAME, holder)
    assert cancel_request_digest() == {"processed": 1, "failed": 0}
    assert len(mail.outbox) == 1


def test_a_refused_mail_leaves_the_requests_for_the_next_window(shop, staff_mails, monkeypatch):
    with time_machine.travel(at(8), tick=False):
        request_on(shop, "A-1")

    def refuse(*args, **kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr("claims.digests.send_mail", refuse)
    report = run_at(at(9))
    assert report.failed == 1 and Claim.objects.get(order__number="A-1").digested_at is None
    monkeypatch.undo()
    run_at(at(13))
    assert len(mail.outbox) == 1 and Claim.objects.get(order__number="A-1").digested_at == at(13)


def test_the_beat_schedule_is_installed_at_the_configured_hours():
    task = PeriodicTask.objects.get(task=TASK_NAME)
    assert task.crontab.hour == "9,13,17" and task.crontab.minute == "0"
    assert str(task.crontab.timezone) == "Asia/Tokyo"
