"""The customer's reservation pages over HTTP against the Stripe sandbox: book an event (first-come →
numbers on the completion page and by mail; approval → pending, nothing at Stripe), refusals that write
nothing, signed links, and the payment request page (単発決済): issue once, show the numbers, then paid."""

from __future__ import annotations

import re
import socket
import threading
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from payments.models import Payment, Status
from payments.services import sync_payment
from reservations import payment_flow
from reservations.customer_links import completion_path, event_path, payment_request_path, sign
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from reservations.payment_requests import send_payment_request
from tests.konbini.flow_helpers import wait_for
from tests.reservations.helpers import SYSTEM, make_slot

pytestmark = pytest.mark.django_db(transaction=True)  # the numbers mail goes out after the commit

FIRST, APPROVAL = AcceptanceMode.FIRST_COME, AcceptanceMode.APPROVAL
ISSUE_BUTTON = "コンビニ支払い番号を発行"
JST = ZoneInfo("Asia/Tokyo")


def booking(slot, **overrides) -> dict:
    return {"slot": slot.pk, "name": "山田 花子", "email": "hanako@example.com", "seats": 2,
            "payment_method": "konbini", **overrides}


def body(response) -> str:
    return response.content.decode()


def intent_numbers(sandbox, payment: Payment) -> dict:
    intent = sandbox.stripe_intent(payment.external_id)
    return intent["next_action"]["konbini_display_details"]


def assert_shows_numbers(page: str, sandbox, payment: Payment) -> None:
    details = intent_numbers(sandbox, payment)
    stores = {name: s for name, s in details["stores"].items() if s}
    assert stores
    for store in stores.values():
        assert store["payment_code"] in page
        if store.get("confirmation_number"):
            assert store["confirmation_number"] in page
    assert details["hosted_voucher_url"] in page
    assert f"¥{payment.amount:,}" in page
    deadline = payment.payment_deadline.astimezone(JST)
    assert f"{deadline.year}年{deadline.month}月{deadline.day}日 {deadline:%H:%M}" in page
    assert "メールでもお送りしました" in page


def written(sandbox) -> tuple[int, int, int, int]:
    return Reservation.objects.count(), Payment.objects.count(), len(sandbox.calls()), len(mail.outbox)


# --- the booking page -----------------------------------------------------------------------------------


def test_booking_page_shows_event_price_and_seats_left(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, price=3000, capacity=5)
    payment_flow.book(slot, name="先客", email="a@example.com", seats=2, by=SYSTEM)
    response = client.get(event_path(slot.event))
    page = body(response)
    assert response.status_code == 200
    for text in ("陶芸体験", konbini_shop.name, "¥3,000", "残り3席", "コンビニ払い", 'value="konbini"'):
        assert text in page, text
    assert 'value="none"' not in page


def test_free_event_offers_no_payment_and_books_confirmed(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, price=0)
    page = body(client.get(event_path(slot.event)))
    assert "無料" in page and 'value="konbini"' not in page
    response = client.post(event_path(slot.event), booking(slot, payment_method="none"))
    reservation = Reservation.objects.get()
    assert response.status_code == 302 and response["Location"] == completion_path(reservation)
    done = body(client.get(response["Location"]))
    assert "ご予約が確定しました" in done and "確定" in done
    assert reservation.payment is None and sandbox.calls("payment_intents.create") == []


def test_first_come_booking_shows_the_numbers_and_mails_them(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=FIRST, price=3000)
    response = client.post(event_path(slot.event), booking(slot, seats=2))

    reservation = Reservation.objects.select_related("payment").get()
    assert response.status_code == 302 and response["Location"] == completion_path(reservation)
    payment = reservation.payment
    assert reservation.status == R.CONFIRMED and payment.status == Status.AWAITING_PAYMENT
    assert payment.amount == 6000
    page = body(client.get(response["Location"]))
    assert "ご予約が確定しました" in page
    assert_shows_numbers(page, sandbox, payment)
    assert len(sandbox.calls("payment_intents.create")) == 1

    [message] = mail.outbox
    assert message.to == ["hanako@example.com"]
    lawson = intent_numbers(sandbox, payment)["stores"]["lawson"]["payment_code"]
    assert lawson in message.body

    assert body(client.get(response["Location"])) == page  # a reload changes nothing
    assert len(sandbox.calls("payment_intents.create")) == 1


def test_approval_mode_books_pending_without_calling_stripe(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=APPROVAL, price=3000)
    response = client.post(event_path(slot.event), booking(slot))

    reservation = Reservation.objects.select_related("payment").get()
    assert reservation.status == R.PENDING_APPROVAL
    assert reservation.payment.status == Status.AWAITING_APPROVAL and not reservation.payment.external_id
    page = body(client.get(response["Location"]))
    assert "承認待ち" in page and "承認されるとご予約が確定し、コンビニ支払い番号をメールでお送りします" in page
    assert sandbox.calls("payment_intents.create") == []
    assert mail.outbox == []


def test_waitlisted_booking_says_numbers_come_with_the_confirmation(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=FIRST, price=3000, capacity=2, waitlist=True)
    payment_flow.book(slot, name="先客", email="a@example.com", seats=2, by=SYSTEM, payment_method="konbini")
    calls = len(sandbox.calls("payment_intents.create"))
    assert "満席（キャンセル待ちで受付）" in body(client.get(event_path(slot.event)))
    response = client.post(event_path(slot.event), booking(slot, seats=1))
    page = body(client.get(response["Location"]))
    assert "キャンセル待ち" in page and "ご予約が確定した時点で、コンビニ支払い番号をメールでお送りします" in page
    assert len(sandbox.calls("payment_intents.create")) == calls


def test_numbers_not_issued_yet_says_they_will_be_mailed(client, konbini_shop, sandbox):
    sandbox.set_faults(rules=[{"api": "payment_intents.create", "action": "error", "times": 1}])
    slot = make_slot(konbini_shop, mode=FIRST, price=3000)
    response = client.post(event_path(slot.event), booking(slot))
    reservation = Reservation.objects.select_related("payment").get()
    assert reservation.status == R.CONFIRMED  # the confirmation stands; the poll issues the numbers later
    assert reservation.payment.status == Status.AWAITING_APPROVAL
    page = body(client.get(response["Location"]))
    assert "ご予約が確定しました" in page and "発行され次第" in page and "hanako@example.com" in page


# --- refusals: a clear error, nothing written --------------------------------------------------------------


def _other_event_slot(shop):
    return make_slot(shop, price=3000)


@pytest.mark.parametrize(("case", "expected"), [
    ("no_name", "お名前を入力してください"),
    ("no_email", "メールアドレスを入力してください"),
    ("bad_email", "メールアドレスの形式が正しくありません"),
    ("zero_seats", "人数は1名以上で入力してください"),
    ("negative_seats", "人数は1名以上で入力してください"),
    ("text_seats", "人数は数字で入力してください"),
    ("unknown_slot", "選択された日時はご予約いただけません"),
    ("other_events_slot", "選択された日時はご予約いただけません"),
    ("past_slot", "選択された日時はご予約いただけません"),
    ("full_no_waitlist", "残りは1席です"),
    ("larger_than_capacity", "定員は3名のため"),
    ("amount_too_small", "¥120"),
    ("amount_too_large", "¥300,000"),
    ("method_not_offered", "選択されたお支払い方法はご利用いただけません"),
])
def test_bad_input_shows_an_error_and_writes_nothing(client, konbini_shop, sandbox, case, expected):
    price = {"amount_too_small": 100, "amount_too_large": 200_000}.get(case, 3000)
    slot = make_slot(konbini_shop, price=price, capacity=3, waitlist=False)
    if case == "full_no_waitlist":
        payment_flow.book(slot, name="先客", email="a@example.com", seats=2, by=SYSTEM)
    data = booking(slot)
    change = {
        "no_name": {"name": "  "}, "no_email": {"email": ""}, "bad_email": {"email": "hanako@"},
        "zero_seats": {"seats": 0}, "negative_seats": {"seats": -1}, "text_seats": {"seats": "二"},
        "unknown_slot": {"slot": 999_999}, "other_events_slot": {"slot": _other_event_slot(konbini_shop).pk},
        "larger_than_capacity": {"seats": 4}, "amount_too_large": {"seats": 2},
        "amount_too_small": {"seats": 1}, "method_not_offered": {"payment_method": "none"},
    }.get(case, {})
    data.update(change)
    if case == "past_slot":
        from datetime import timedelta

        from django.utils import timezone

        slot.starts_at = timezone.now() - timedelta(hours=1)
        slot.save()
    before = written(sandbox)

    response = client.post(event_path(slot.event), data)

    page = body(response)
    assert 400 <= response.status_code < 500, response.status_code
    assert 'id="error"' in page and expected in page, page
    assert written(sandbox) == before
    if case not in ("no_name", "past_slot"):  # past_slot: the page has no slot left to show a form for
        assert "山田 花子" in page  # what was typed is kept


def test_konbini_on_a_free_event_is_refused(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, price=0)
    before = written(sandbox)
    response = client.post(event_path(slot.event), booking(slot, payment_method="konbini"))
    assert response.status_code == 400 and "選択されたお支払い方法はご利用いただけません" in body(response)
    assert written(sandbox) == before


def test_tampered_or_foreign_tokens_are_404(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, price=3000)
    reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", by=SYSTEM,
                                    payment_method="konbini")
    good = {"event": sign("event", slot.event.pk), "done": sign("done", reservation.pk),
            "pay": sign("pay", reservation.payment_id)}
    for name, token in good.items():
        assert client.get(reverse(f"reserve:{name}", kwargs={"token": token})).status_code == 200
        pk, signature = token.split(":")
        flipped = signature[:-1] + ("B" if signature.endswith("A") else "A")
        for bad in (f"{int(pk) + 1}:{signature}", f"{pk}:{flipped}", pk, "garbage"):
            assert client.get(reverse(f"reserve:{name}", kwargs={"token": bad})).status_code == 404, (name, bad)
    # A valid signature for one page does not open another.
    assert client.get(reverse("reserve:pay", kwargs={"token": good["done"]})).status_code == 404
    assert client.get(reverse("reserve:done", kwargs={"token": sign("done", 999_999)})).status_code == 404
    before = written(sandbox)
    assert client.post(reverse("reserve:event", kwargs={"token": good["event"] + "x"}),
                       booking(slot)).status_code == 404
    assert written(sandbox) == before


# --- the payment request page (単発決済) -------------------------------------------------------------------


def expired_with_request(shop, sandbox) -> tuple[Reservation, Payment, Payment]:
    """A confirmed reservation whose konbini payment expired, and the one-off request sent for it."""
    slot = make_slot(shop, mode=FIRST, price=3000)
    reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", seats=1, by=SYSTEM,
                                    payment_method="konbini")
    old = reservation.payment
    sandbox.stripe_expire(old.external_id)
    sync_payment(old, actor=SYSTEM)
    assert wait_for(lambda: Payment.objects.get(pk=old.pk).status == Status.EXPIRED)
    reservation = send_payment_request(reservation, by=SYSTEM)
    new = Payment.objects.get(pk=reservation.payment_id)
    assert new.status == Status.UNPROCESSED
    return reservation, old, new


def test_payment_request_page_issues_once_and_shows_the_numbers(client, konbini_shop, sandbox):
    reservation, old, new = expired_with_request(konbini_shop, sandbox)
    link = payment_request_path(new)
    assert any(link in m.body for m in mail.outbox)  # the request mail carries this page's link
    page = body(client.get(link))
    assert ISSUE_BUTTON in page and "¥3,000" in page and "確定" in page
    creates = len(sandbox.calls("payment_intents.create"))
    mails = len(mail.outbox)

    first = client.post(link)
    second = client.post(link)  # the double click

    assert first.status_code == second.status_code == 302 and first["Location"] == second["Location"] == link
    assert len(sandbox.calls("payment_intents.create")) == creates + 1
    new.refresh_from_db()
    assert new.status == Status.AWAITING_PAYMENT
    page = body(client.get(link))
    assert ISSUE_BUTTON not in page
    assert_shows_numbers(page, sandbox, new)
    assert len(mail.outbox) == mails + 1 and new.external_id  # the numbers mail, once
    # The completion page follows the reservation's current payment.
    assert_shows_numbers(body(client.get(completion_path(reservation))), sandbox, new)
    # The expired payment's own page says it was replaced, and offers nothing.
    old_page = body(client.get(payment_request_path(old)))
    assert "置き換えられました" in old_page and ISSUE_BUTTON not in old_page
    assert client.post(payment_request_path(old)).status_code == 302
    assert len(sandbox.calls("payment_intents.create")) == creates + 1


def test_simultaneous_double_click_issues_once(konbini_shop, sandbox):
    _reservation, _old, new = expired_with_request(konbini_shop, sandbox)
    link = payment_request_path(new)
    creates = len(sandbox.calls("payment_intents.create"))
    # Stripe answers slowly, so the second click arrives while the first is still waiting for it.
    sandbox.set_faults(rules=[{"api": "payment_intents.create", "action": "delay", "seconds": 1}])
    answers = []

    def click():
        try:
            answers.append(Client().post(link))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [a.status_code for a in answers] == [302, 302]
    assert len(sandbox.calls("payment_intents.create")) == creates + 1
    assert Payment.objects.get(pk=new.pk).status == Status.AWAITING_PAYMENT


def test_stripe_unreachable_shows_an_error_and_changes_nothing(client, konbini_shop, sandbox, settings):
    _reservation, _old, new = expired_with_request(konbini_shop, sandbox)
    link = payment_request_path(new)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    reachable, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, f"http://127.0.0.1:{closed}"
    mails = len(mail.outbox)

    response = client.post(link)

    page = body(response)
    assert response.status_code == 503 and "接続できませんでした" in page and ISSUE_BUTTON in page
    new.refresh_from_db()
    assert new.status == Status.UNPROCESSED and not new.external_id and not new.konbini_numbers
    assert len(mail.outbox) == mails

    settings.STRIPE_API_BASE = reachable  # Stripe is back: the customer tries again
    assert client.post(link).status_code == 302
    new.refresh_from_db()
    assert new.status == Status.AWAITING_PAYMENT
    assert_shows_numbers(body(client.get(link)), sandbox, new)


def test_payment_request_page_after_paying_says_paid(client, konbini_shop, sandbox, webhooks_to_us):
    reservation, _old, new = expired_with_request(konbini_shop, sandbox)
    link = payment_request_path(new)
    client.post(link)
    new.refresh_from_db()

    sandbox.stripe_pay(new.external_id, store="lawson")

    assert wait_for(lambda: Payment.objects.get(pk=new.pk).status == Status.PAID)
    page = body(client.get(link))
    assert "お支払いが完了しました" in page and ISSUE_BUTTON not in page
    assert "お支払いも完了しています" in body(client.get(completion_path(reservation)))
    assert client.post(link).status_code == 302  # nothing to do any more
    assert len(sandbox.calls("payment_intents.create")) == 2


def test_cancelled_request_says_so_and_offers_nothing(client, konbini_shop, sandbox):
    reservation, _old, new = expired_with_request(konbini_shop, sandbox)
    payment_flow.cancel(reservation, by=SYSTEM, reason="お客様都合")
    creates = len(sandbox.calls("payment_intents.create"))
    link = payment_request_path(new)
    page = body(client.get(link))
    assert "キャンセルされました" in page and ISSUE_BUTTON not in page
    assert client.post(link).status_code == 302
    assert len(sandbox.calls("payment_intents.create")) == creates
    assert "キャンセルされました" in body(client.get(completion_path(reservation)))


def test_double_submitted_booking_form_books_once(client, konbini_shop, sandbox):
    slot = make_slot(konbini_shop, mode=FIRST, price=3000)
    page = body(client.get(event_path(slot.event)))
    key = re.search(r'name="request_key" value="([0-9a-f]{32})"', page).group(1)
    assert key not in body(client.get(event_path(slot.event)))  # every page view gets its own key

    first = client.post(event_path(slot.event), booking(slot, request_key=key))
    second = client.post(event_path(slot.event), booking(slot, request_key=key))  # the same form, again

    reservation = Reservation.objects.get()
    assert first["Location"] == second["Location"] == completion_path(reservation)
    assert len(sandbox.calls("payment_intents.create")) == 1 and Payment.objects.count() == 1
    # Without a key (an old page) each POST is its own booking, as before.
    client.post(event_path(slot.event), booking(slot, seats=1))
    assert Reservation.objects.count() == 2
