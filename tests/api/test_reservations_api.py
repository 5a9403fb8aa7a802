"""Slots and reservations over the API (issue #10): read with the admin's filters, book, approve, cancel through
reservations.payment_flow; every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from payments import services as payment_services
from payments.models import OperationKind, Payment, PaymentOperation
from payments.models import Status as P
from refunds.models import RefundTask
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation, ReservationEvent, Slot
from reservations.models import Status as R
from reservations.selectors import seats_left
from shops.api_scopes import Scope
from tests.api.conftest import api_client_for, english, without
from tests.konbini.conftest import konbini_shop  # noqa: F401  (a shop with a Stripe account at the sandbox)
from tests.reservations.helpers import SYSTEM, book, make_slot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_api")]

PRICE = 4000


def state() -> dict:
    """What a refusal must leave as it was."""
    return {
        "reservations": list(Reservation.objects.order_by("pk").values_list("pk", "status", "payment_id", "seats")),
        "events": ReservationEvent.objects.count(),
        "payments": list(Payment.objects.order_by("pk").values_list("pk", "status", "amount", "version")),
        "operations": PaymentOperation.objects.count(),
        "refund_tasks": RefundTask.objects.count(),
    }


def konbini_booked(shop, *, mode=AcceptanceMode.FIRST_COME, seats=2, waitlist=False):
    slot = make_slot(shop, mode=mode, price=PRICE, capacity=4, waitlist=waitlist)
    reservation = payment_flow.book(slot, name="山田 花子", email="hanako@example.com", seats=seats, by=SYSTEM,
                                    payment_method="konbini")
    return slot, Reservation.objects.select_related("payment").get(pk=reservation.pk)


def pay(sandbox, payment) -> Payment:
    """Paid at the store; our record learns it from Stripe (the status check instead of the webhook)."""
    sandbox.stripe_pay(payment.external_id)
    payment_services.sync_payment(payment, actor=SYSTEM)
    payment.refresh_from_db()
    assert payment.status == P.PAID
    return payment


# --- slots ---------------------------------------------------------------------------------------------------


def test_slots_list_and_detail_with_seats_and_filters(api, shop, other_shop):
    slot = make_slot(shop, capacity=5, price=1500, mode=AcceptanceMode.APPROVAL)
    book(slot, seats=2)
    later = make_slot(shop)
    Slot.objects.filter(pk=later.pk).update(starts_at=timezone.now() + timedelta(days=30))
    foreign = make_slot(other_shop)

    rows = api.get("/api/v1/slots/").json()["results"]
    assert [row["id"] for row in rows] == [later.pk, slot.pk]  # never another shop's
    detail = api.get(f"/api/v1/slots/{slot.pk}/").json()
    assert (detail["capacity"], detail["seats_taken"], detail["seats_left"]) == (5, 2, 3)
    assert detail["event"]["price"] == 1500 and detail["event"]["acceptance_mode"] == "approval"
    assert detail["event"]["title"] == "陶芸体験"

    by_event = api.get("/api/v1/slots/", {"event": later.event_id}).json()["results"]
    assert [row["id"] for row in by_event] == [later.pk]
    day = timezone.localdate(slot.starts_at).isoformat()
    by_day = api.get("/api/v1/slots/", {"starts_at__from": day, "starts_at__to": day}).json()["results"]
    assert [row["id"] for row in by_day] == [slot.pk]
    bad = api.get("/api/v1/slots/", {"starts_at__from": "not-a-day"})
    assert bad.status_code == 400 and "starts_at__from" in bad.json()["error"]["fields"]
    not_an_id = api.get("/api/v1/slots/", {"event": "2.5"})  # never truncated to event 2
    assert not_an_id.status_code == 400 and "event" in not_an_id.json()["error"]["fields"]
    assert api.get(f"/api/v1/slots/{foreign.pk}/").status_code == 404


@pytest.mark.parametrize("path, make", [
    ("/api/v1/slots/", lambda shop: make_slot(shop)),
    ("/api/v1/reservations/", lambda shop: book(make_slot(shop, capacity=50))),
])
def test_lists_cost_a_fixed_number_of_queries(api, shop, path, make, django_assert_max_num_queries):
    make(shop)
    with django_assert_max_num_queries(6) as one:
        assert len(api.get(path).json()["results"]) == 1
    for _ in range(9):
        make(shop)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(api.get(path).json()["results"]) == 10


# --- booking -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, expected", [(AcceptanceMode.FIRST_COME, R.CONFIRMED),
                                            (AcceptanceMode.APPROVAL, R.PENDING_APPROVAL)])
def test_book_a_free_event(api, shop, mode, expected):
    slot = make_slot(shop, mode=mode, capacity=3)
    response = api.post(f"/api/v1/slots/{slot.pk}/book/", {"name": "佐藤 一郎", "email": "ichiro@example.com",
                                                          "seats": 2}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == expected and body["seats"] == 2 and body["payment"] is None
    assert body["payment_method"] == "none" and body["customer_url"].startswith("http")
    reservation = Reservation.objects.get(pk=body["id"])
    assert reservation.shop_id == shop.pk and reservation.customer_name == "佐藤 一郎"
    assert seats_left(slot) == 1
    assert reservation.events.get().actor_label == "API: test"


def test_full_slot_is_waitlisted_or_refused(api, shop):
    waiting = make_slot(shop, capacity=2, waitlist=True)
    book(waiting, seats=2)
    response = api.post(f"/api/v1/slots/{waiting.pk}/book/", {"name": "A", "email": "a@example.com", "seats": 1},
                        format="json")
    assert response.status_code == 201 and response.json()["status"] == R.WAITLISTED
    assert response.json()["waitlist_position"] == 1

    full = make_slot(shop, capacity=2, waitlist=False)
    book(full, seats=2)
    before = state()
    refused = api.post(f"/api/v1/slots/{full.pk}/book/", {"name": "B", "email": "b@example.com", "seats": 1},
                       format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "slot_full"
    assert "Only 0 seats are left" in refused.json()["error"]["message"]
    assert state() == before


def test_konbini_booking_issues_the_numbers_the_customer_needs(konbini_shop, sandbox):  # noqa: F811
    client = english(api_client_for(konbini_shop))
    slot = make_slot(konbini_shop, price=PRICE, capacity=4)
    response = client.post(f"/api/v1/slots/{slot.pk}/book/", {"name": "山田 花子", "email": "hanako@example.com",
                                                             "seats": 2}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == R.CONFIRMED and body["payment_method"] == "konbini"
    payment = body["payment"]
    assert payment["status"] == P.AWAITING_PAYMENT and payment["amount"] == 2 * PRICE
    assert payment["stores"] and all(store["payment_code"] for store in payment["stores"])
    assert payment["payment_deadline"] and payment["payment_request_url"] is None
    assert Payment.objects.get(pk=payment["id"]).external_id  # the PaymentIntent at Stripe


@pytest.mark.parametrize("body, field", [
    ({"email": "a@example.com", "seats": 1}, "name"),
    ({"name": "A", "email": "not-an-email", "seats": 1}, "email"),
    ({"name": "A", "email": "a@example.com", "seats": 0}, "seats"),
    ({"name": "A", "email": "a@example.com", "seats": "two"}, "seats"),
    ({"name": "A", "email": "a@example.com", "seats": 1, "payment_method": "konbini"}, "payment_method"),
])
def test_invalid_booking_is_400_with_fields_and_creates_nothing(api, shop, body, field):
    slot = make_slot(shop)  # free: konbini is not offered
    before = state()
    response = api.post(f"/api/v1/slots/{slot.pk}/book/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert field in response.json()["error"]["fields"]
    assert state() == before


def test_booking_refusals_change_nothing(api, other_api, shop, other_shop):
    slot = make_slot(shop, capacity=2)
    body = {"name": "A", "email": "a@example.com", "seats": 1}
    before = state()
    too_many = api.post(f"/api/v1/slots/{slot.pk}/book/", {**body, "seats": 3}, format="json")
    assert too_many.status_code == 409 and too_many.json()["error"]["code"] == "slot_full"
    missing = english(api_client_for(shop, scopes=without(Scope.ORDERS))).post(
        f"/api/v1/slots/{slot.pk}/book/", body, format="json")
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "missing_scope"
    foreign = other_api.post(f"/api/v1/slots/{slot.pk}/book/", body, format="json")
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "not_found"
    Slot.objects.filter(pk=slot.pk).update(starts_at=timezone.now() - timedelta(hours=1))
    past = api.post(f"/api/v1/slots/{slot.pk}/book/", body, format="json")
    assert past.status_code == 409 and "already started" in past.json()["error"]["message"]
    assert state() == before


def test_booking_with_the_same_idempotency_key_books_once(api, shop):
    slot = make_slot(shop, capacity=5)
    body = {"name": "A", "email": "a@example.com", "seats": 1}
    first = api.post(f"/api/v1/slots/{slot.pk}/book/", body, format="json", HTTP_IDEMPOTENCY_KEY="book-1")
    again = api.post(f"/api/v1/slots/{slot.pk}/book/", body, format="json", HTTP_IDEMPOTENCY_KEY="book-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert Reservation.objects.count() == 1
    assert Reservation.objects.get().request_key  # the service's own double-submit guard is set too


# --- reservations: list, detail ------------------------------------------------------------------------------


def test_reservation_list_filters_like_the_admin(konbini_shop, sandbox, other_shop):  # noqa: F811
    client = english(api_client_for(konbini_shop))
    free = book(make_slot(konbini_shop, capacity=5), name="無料 太郎")
    _slot, awaiting = konbini_booked(konbini_shop)
    _slot, expired = konbini_booked(konbini_shop)
    sandbox.stripe_expire(expired.payment.external_id)
    payment_services.sync_payment(expired.payment, actor=SYSTEM)
    assert Payment.objects.get(pk=expired.payment_id).status == P.EXPIRED
    book(make_slot(other_shop))

    def ids(**params):
        response = client.get("/api/v1/reservations/", params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {free.pk, awaiting.pk, expired.pk}
    assert ids(payment_status="none") == {free.pk}
    assert ids(payment_status=P.AWAITING_PAYMENT) == {awaiting.pk}
    assert ids(attention="konbini") == ids(attention="expired") == {expired.pk}
    assert ids(attention="not_issued") == set()
    assert ids(status=R.CONFIRMED) == {free.pk, awaiting.pk, expired.pk}
    assert ids(status=R.CANCELLED) == set()
    assert ids(event=free.slot.event_id) == {free.pk}
    assert ids(q="無料") == {free.pk} and ids(q="山田") == {awaiting.pk, expired.pk}
    assert ids(q="HANAKO@example") == {free.pk, awaiting.pk, expired.pk}  # case-insensitive, e-mail too
    rows = {row["id"]: row for row in client.get("/api/v1/reservations/").json()["results"]}
    assert rows[expired.pk]["attention"] == "expired" and rows[free.pk]["attention"] is None
    bad = client.get("/api/v1/reservations/", {"payment_status": "bogus"})
    assert bad.status_code == 400 and "payment_status" in bad.json()["error"]["fields"]


def test_reservation_detail_with_payment_and_history(api, other_api, shop):
    reservation = book(make_slot(shop))
    body = api.get(f"/api/v1/reservations/{reservation.pk}/").json()
    assert body["status"] == R.CONFIRMED and body["payment"] is None and body["waitlist_position"] is None
    assert body["history"][0]["message"].startswith("予約受付")
    assert other_api.get(f"/api/v1/reservations/{reservation.pk}/").status_code == 404


# --- approve -------------------------------------------------------------------------------------------------


def test_approve_confirms_and_issues_the_konbini_numbers(konbini_shop, sandbox):  # noqa: F811
    _slot, reservation = konbini_booked(konbini_shop, mode=AcceptanceMode.APPROVAL)
    assert reservation.status == R.PENDING_APPROVAL and reservation.payment.status == P.AWAITING_APPROVAL
    client = english(api_client_for(konbini_shop, scopes=[Scope.READ, Scope.RESERVATIONS]))
    response = client.post(f"/api/v1/reservations/{reservation.pk}/approve/", format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == R.CONFIRMED
    assert body["payment"]["status"] == P.AWAITING_PAYMENT and body["payment"]["stores"]


def test_approve_refusals_change_nothing(api, other_api, shop):
    pending = book(make_slot(shop, mode=AcceptanceMode.APPROVAL))
    confirmed = book(make_slot(shop))
    before = state()
    missing = english(api_client_for(shop, scopes=without(Scope.RESERVATIONS))).post(
        f"/api/v1/reservations/{pending.pk}/approve/", format="json")
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "missing_scope"
    foreign = other_api.post(f"/api/v1/reservations/{pending.pk}/approve/", format="json")
    assert foreign.status_code == 404
    again = api.post(f"/api/v1/reservations/{confirmed.pk}/approve/", format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert "only a reservation pending approval" in again.json()["error"]["message"]
    assert state() == before


# --- cancel --------------------------------------------------------------------------------------------------


def test_cancel_frees_the_seats_and_promotes_the_waitlist(api, shop):
    slot = make_slot(shop, capacity=2, waitlist=True)
    first = book(slot, seats=2)
    waiting = book(slot, seats=1, name="待ち 次郎")
    response = api.post(f"/api/v1/reservations/{first.pk}/cancel/", {"reason": "体調不良"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["reservation"]["status"] == R.CANCELLED and body["payment_effect"] is None
    assert [(row["id"], row["status"]) for row in body["promoted"]] == [(waiting.pk, R.CONFIRMED)]
    assert "体調不良" in body["reservation"]["history"][-1]["message"]


@pytest.mark.django_db(transaction=True)
def test_cancel_of_a_paid_konbini_reservation_does_what_the_admin_does(konbini_shop, sandbox):  # noqa: F811
    slot, reservation = konbini_booked(konbini_shop, seats=2)
    payment = pay(sandbox, reservation.payment)
    client = english(api_client_for(konbini_shop, scopes=[Scope.READ, Scope.CANCEL, Scope.RESERVATIONS]))
    response = client.post(f"/api/v1/reservations/{reservation.pk}/cancel/", format="json",
                           HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert response.status_code == 200, response.json()
    body = response.json()
    # The shop refunds konbini payments by hand (its default): a manual refund task for what was paid.
    [task] = RefundTask.objects.filter(payment=payment)
    assert task.amount == 2 * PRICE
    [op] = PaymentOperation.objects.filter(payment=payment, kind=OperationKind.CANCEL)
    assert op.gateway_job == "MANUAL" and op.idempotency_key.endswith("cancel-1")
    assert body["payment_effect"] == op.explanation and body["payment_effect"]
    assert body["reservation"]["status"] == R.CANCELLED and body["reservation"]["payment"]["status"] == P.CANCELLED
    assert seats_left(slot) == 4


@pytest.mark.django_db(transaction=True)
def test_cancel_refusals_change_nothing(konbini_shop, sandbox, other_shop):  # noqa: F811
    _slot, reservation = konbini_booked(konbini_shop)
    done = book(make_slot(konbini_shop))
    payment_flow.cancel(done, by=SYSTEM)
    before, calls = state(), len(sandbox.calls())
    url = f"/api/v1/reservations/{reservation.pk}/cancel/"
    for scopes, scope in ((without(Scope.CANCEL), Scope.CANCEL), (without(Scope.RESERVATIONS), Scope.RESERVATIONS)):
        refused = english(api_client_for(konbini_shop, scopes=scopes)).post(url, format="json")
        assert refused.status_code == 403, scope
        assert refused.json()["error"]["code"] == "missing_scope" and f"'{scope}'" in refused.json()["error"]["message"]
    client = english(api_client_for(konbini_shop))
    assert english(api_client_for(other_shop)).post(url, format="json").status_code == 404
    invalid = client.post(url, {"reason": "x" * 501}, format="json")
    assert invalid.status_code == 400 and "reason" in invalid.json()["error"]["fields"]
    again = client.post(f"/api/v1/reservations/{done.pk}/cancel/", format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert state() == before and len(sandbox.calls()) == calls

    sandbox.stripe_set_paying(reservation.payment.external_id)  # the customer is at the register right now
    paying = client.post(url, format="json")
    assert paying.status_code == 409 and paying.json()["error"]["code"] == "changed_meanwhile"
    assert "paying at the store" in paying.json()["error"]["message"]
    # Stripe's refusal is in the ledger (the failed cancel, the status check that asked why); nothing else moved.
    after = state()
    assert after.pop("operations") > before.pop("operations")
    assert [row[:3] for row in after.pop("payments")] == [row[:3] for row in before.pop("payments")]
    assert after == before
    assert Reservation.objects.get(pk=reservation.pk).status == R.CONFIRMED
