"""Operator pages for reservations with konbini payments (issue #7): the list with both statuses and the
"needs attention" filter, the reservation page's payment panel, confirm pages that state the money effect
first, and the operations through them against the Stripe sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from payments import services
from payments.konbini_operations import EVENT_LOG_SETTLE
from payments.models import OperationKind, Payment, PaymentOperation
from payments.models import Status as P
from refunds.models import RefundTask
from reservations import payment_flow
from reservations.models import AcceptanceMode, Reservation
from reservations.models import Status as R
from reservations.selectors import needs_attention, seats_left
from tests.factories import member
from tests.reservations.helpers import SYSTEM, make_slot

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:reservations_reservation_changelist"
EMAIL = "hanako@example.com"


# --- building reservations in each payment state, through the real flow and the sandbox --------------------

def book(slot, name="山田 花子", seats=1):
    return payment_flow.book(slot, name=name, email=EMAIL, seats=seats, by=SYSTEM, payment_method="konbini")


def pending(shop, name="承認待ちの客"):
    """承認待ち, konbini numbers not issued yet (承認後にコンビニ支払い番号を発行)."""
    return book(make_slot(shop, mode=AcceptanceMode.APPROVAL, price=3000), name=name)


def awaiting(shop, name="支払い待ちの客", slot=None):
    """確定, numbers issued, deadline running."""
    return book(slot or make_slot(shop, price=3000), name=name)


def settled(reservation, sandbox, how):
    """The customer pays at the store (or the deadline passes) at Stripe; a status check applies it."""
    payment = reservation.payment
    getattr(sandbox, how)(payment.external_id)
    services.sync_payment(payment, actor=SYSTEM)
    return Reservation.objects.select_related("payment").get(pk=reservation.pk)


def paid(shop, sandbox, name="支払い済みの客"):
    return settled(awaiting(shop, name=name), sandbox, "stripe_pay")


def expired(shop, sandbox, name="期限切れの客", slot=None):
    return settled(awaiting(shop, name=name, slot=slot), sandbox, "stripe_expire")


def not_issued(shop, sandbox, name="番号未発行の客", lost_answer=False):
    """確定 but no numbers: Stripe could not be reached (nothing sent), or its answer was lost (a 500)."""
    if lost_answer:
        sandbox.set_faults(rules=[{"api": "payment_intents.create", "action": "error", "times": 1}])
    else:
        shop.stripe_base_url = "http://127.0.0.1:9"  # nothing listens there
        shop.save()
    reservation = awaiting(shop, name=name)
    sandbox.clear_faults()
    shop.stripe_base_url = ""
    shop.save()
    return fresh(reservation)


def fresh(reservation):
    return Reservation.objects.select_related("payment").get(pk=reservation.pk)


def change_url(reservation):
    return reverse("admin:reservations_reservation_change", args=[reservation.pk])


def operate_url(reservation, operation):
    return reverse("admin:reservations_reservation_operate", args=[reservation.pk, operation])


def confirm(client, reservation, operation, **extra):
    """Open the confirm page, then post it as the operator would (with what the page showed)."""
    page = client.get(operate_url(reservation, operation))
    data = {"confirmed": "1", "seen": page.context["seen"], "key": page.context["key"], **extra}
    return client.post(operate_url(reservation, operation), data, follow=True)


def listed(client, **params):
    return {r.customer_name for r in client.get(reverse(CHANGELIST), params).context["cl"].result_list}


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def pay_links(monkeypatch):
    """The one-off request mails a link to the customer pages; stand in for them if they are not routed."""
    try:
        reverse("reserve:pay", kwargs={"token": "x"})
    except NoReverseMatch:
        monkeypatch.setattr("reservations.payment_requests.payment_request_path",
                            lambda payment: f"/reserve/pay/{payment.pk}/")


# --- list ----------------------------------------------------------------------------------------------

def test_list_shows_reservation_and_payment_status_side_by_side(english_client, konbini_shop, sandbox, operator):
    pending(konbini_shop)
    awaiting(konbini_shop)
    expired(konbini_shop, sandbox)
    payment_flow.book(make_slot(konbini_shop), name="無料の客", email=EMAIL, by=SYSTEM)
    english_client.force_login(operator)
    html = english_client.get(reverse(CHANGELIST)).content.decode()
    for reservation_status, payment_status in [("Pending approval", "Numbers issued after approval"),
                                               ("Confirmed", "Awaiting payment"), ("Confirmed", "Payment error")]:
        assert reservation_status in html and payment_status in html
    assert "¥3,000" in html and "Konbini" in html and "No online payment" in html
    assert "Decision needed: payment expired" in html  # the attention column


def test_needs_attention_filter_and_payment_status_filter(english_client, konbini_shop, sandbox, operator):
    pending(konbini_shop)
    awaiting(konbini_shop)
    paid(konbini_shop, sandbox)
    expired(konbini_shop, sandbox)
    not_issued(konbini_shop, sandbox)
    cancelled = expired(konbini_shop, sandbox, name="取消済みの客")
    payment_flow.cancel(cancelled, by=SYSTEM)
    stuck = Reservation.objects.select_related("payment").get(customer_name="番号未発行の客")
    assert stuck.status == R.CONFIRMED and stuck.payment.status == P.AWAITING_APPROVAL
    english_client.force_login(operator)
    assert listed(english_client, attention="konbini") == {"期限切れの客", "番号未発行の客"}
    assert listed(english_client, attention="expired") == {"期限切れの客"}
    assert listed(english_client, attention="not_issued") == {"番号未発行の客"}
    assert listed(english_client, payment_status="paid") == {"支払い済みの客"}
    assert listed(english_client, payment_status="awaiting_approval") == {"承認待ちの客", "番号未発行の客"}
    assert listed(english_client, attention="nonsense") == listed(english_client)  # ignored, not a 500
    assert set(needs_attention().values_list("customer_name", flat=True)) == {"期限切れの客", "番号未発行の客"}


def test_list_query_count_is_constant(english_client, konbini_shop, sandbox, operator):
    english_client.force_login(operator)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert english_client.get(reverse(CHANGELIST)).status_code == 200
        return len(queries)

    awaiting(konbini_shop)
    expired(konbini_shop, sandbox)
    few = count()
    for n in range(4):
        awaiting(konbini_shop, name=f"客{n}")
        pending(konbini_shop, name=f"承認待ち{n}")
    paid(konbini_shop, sandbox)
    assert Reservation.objects.count() == 11
    assert count() == few


def test_dashboard_counts_reservations_needing_a_decision(english_client, konbini_shop, sandbox, operator):
    expired(konbini_shop, sandbox)
    not_issued(konbini_shop, sandbox)
    awaiting(konbini_shop)
    english_client.force_login(operator)
    html = english_client.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard-attention-reservations_konbini"' in html
    assert 'data-count="2"' in html.split('id="dashboard-attention-reservations_konbini"')[1][:200]
    url = f"{reverse(CHANGELIST)}?attention=konbini"
    assert f'href="{url}"' in html
    assert "Reservations: konbini payment needs a decision" in html


# --- detail page -----------------------------------------------------------------------------------------

def test_detail_shows_the_payment_panel_with_numbers(english_client, konbini_shop, operator):
    reservation = awaiting(konbini_shop)
    english_client.force_login(operator)
    html = english_client.get(change_url(reservation)).content.decode()
    payment = reservation.payment
    assert 'id="reservation-payment-panel"' in html and "Awaiting payment" in html and "¥3,000" in html
    assert payment.konbini_numbers["stores"]["lawson"]["payment_code"] in html
    assert payment.konbini_numbers["hosted_voucher_url"] in html and 'id="voucher-link"' in html
    assert reverse("admin:payments_payment_change", args=[payment.pk]) in html
    assert 'id="operation-cancel"' in html and operate_url(reservation, "cancel") in html
    # A payment request is for an expired payment only: shown disabled, with the rule.
    assert 'id="refused-request_payment"' in html and "only sent for a confirmed reservation" in html


def test_payment_page_of_a_konbini_payment_shows_numbers_and_its_reservation(english_client, konbini_shop,
                                                                             operator):
    reservation = awaiting(konbini_shop)
    payment = reservation.payment
    english_client.force_login(operator)
    response = english_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert payment.external_id in html and payment.konbini_numbers["stores"]["familymart"]["payment_code"] in html
    assert change_url(reservation) in html  # operated from the reservation
    assert "operation-cancel" not in html  # no payment-only cancel that would leave the seats taken


# --- confirm pages: the money effect before anything happens ----------------------------------------------

def _effect(client, reservation, operation) -> str:
    response = client.get(operate_url(reservation, operation))
    assert response.status_code == 200
    return response.context["effect"].money


def test_confirm_page_texts_per_payment_state(english_client, konbini_shop, sandbox, operator):
    english_client.force_login(operator)
    before = pending(konbini_shop)
    assert "No konbini payment numbers were issued yet" in _effect(english_client, before, "cancel")
    approve = _effect(english_client, before, "approve")
    assert "Issue konbini payment numbers for ¥3,000" in approve and EMAIL in approve
    assert "cancelled at Stripe" in _effect(english_client, awaiting(konbini_shop), "cancel")
    assert "manual refund task" in _effect(english_client, paid(konbini_shop, sandbox), "cancel")
    konbini_shop.konbini_refunds_via_stripe = True
    konbini_shop.save()
    assert "Stripe refunds ¥3,000" in _effect(english_client, paid(konbini_shop, sandbox, name="返金客"), "cancel")
    request = _effect(english_client, expired(konbini_shop, sandbox), "request_payment")
    assert "new konbini payment of ¥3,000" in request and EMAIL in request and "stays as a record" in request
    # Looking changed nothing: no cancel nor refund at Stripe, nothing issued for the pending one.
    assert sandbox.calls("payment_intents.cancel") == [] and sandbox.calls("refunds.create") == []
    assert fresh(before).status == R.PENDING_APPROVAL and fresh(before).payment.status == P.AWAITING_APPROVAL


def test_cancel_through_the_page_cancels_at_stripe_and_frees_the_seat(english_client, konbini_shop, sandbox,
                                                                      operator):
    slot = make_slot(konbini_shop, price=3000, capacity=1)
    held, waiting = awaiting(konbini_shop, slot=slot), awaiting(konbini_shop, name="待ち客", slot=slot)
    assert waiting.status == R.WAITLISTED
    english_client.force_login(operator)
    done = confirm(english_client, held, "cancel", reason="日程変更")
    text = messages_of(done)
    assert "cancelled" in text and "cancelled at Stripe" in text and "Promoted from the waitlist: 待ち客" in text
    assert sandbox.stripe_intent(held.payment.external_id)["status"] == "canceled"
    held = fresh(held)
    assert held.status == R.CANCELLED and held.payment.status == P.CANCELLED
    assert held.events.filter(message__contains="日程変更").exists()
    promoted = fresh(waiting)
    assert promoted.status == R.CONFIRMED and promoted.payment.status == P.AWAITING_PAYMENT  # its numbers issued
    assert seats_left(slot) == 0


def test_cancel_of_a_paid_reservation_opens_a_manual_refund_task(english_client, konbini_shop, sandbox, operator):
    reservation = paid(konbini_shop, sandbox)
    english_client.force_login(operator)
    text = messages_of(confirm(english_client, reservation, "cancel"))
    assert "manual refund task" in text
    task = RefundTask.objects.get(payment=reservation.payment)
    assert task.amount == 3000 and fresh(reservation).status == R.CANCELLED
    assert sandbox.calls("refunds.create") == []


def test_stripe_refusing_the_cancel_changes_nothing(english_client, konbini_shop, sandbox, operator):
    reservation = awaiting(konbini_shop)
    sandbox.stripe_set_paying(reservation.payment.external_id)  # the customer is at the register
    english_client.force_login(operator)
    done = confirm(english_client, reservation, "cancel")
    assert "Nothing was changed" in messages_of(done) or "Nothing was cancelled" in messages_of(done)
    reservation = fresh(reservation)
    assert reservation.status == R.CONFIRMED and reservation.payment.status == P.AWAITING_PAYMENT
    assert sandbox.stripe_intent(reservation.payment.external_id)["status"] == "requires_action"


def test_a_change_meanwhile_is_refused_and_the_new_effect_shown(english_client, konbini_shop, sandbox, operator):
    reservation = awaiting(konbini_shop)
    english_client.force_login(operator)
    page = english_client.get(operate_url(reservation, "cancel"))
    assert "cancelled at Stripe" in page.context["effect"].money
    settled(reservation, sandbox, "stripe_pay")  # paid at the store while the operator read the page
    done = english_client.post(operate_url(reservation, "cancel"),
                               {"confirmed": "1", "seen": page.context["seen"], "key": page.context["key"]},
                               follow=True)
    assert "changed meanwhile" in messages_of(done)
    assert "manual refund task" in done.context["effect"].money  # the page again, with what a cancel does now
    assert fresh(reservation).status == R.CONFIRMED and not RefundTask.objects.exists()


def test_approve_through_the_page_issues_and_mails_the_numbers(english_client, konbini_shop, operator,
                                                               django_capture_on_commit_callbacks):
    reservation = pending(konbini_shop)
    english_client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        done = confirm(english_client, reservation, "approve")
    assert "approved" in messages_of(done) and "issued and e-mailed to hanako@example.com" in messages_of(done)
    reservation = fresh(reservation)
    assert reservation.status == R.CONFIRMED and reservation.payment.status == P.AWAITING_PAYMENT
    code = reservation.payment.konbini_numbers["stores"]["lawson"]["payment_code"]
    assert code in done.content.decode()  # back on the reservation page, numbers shown
    assert any(code in m.body and m.to == [EMAIL] for m in mail.outbox)


@pytest.mark.parametrize("lost_answer", [False, True], ids=["unreachable", "answer-lost"])
def test_issue_numbers_now_after_stripe_was_unreachable(english_client, konbini_shop, sandbox, operator,
                                                        lost_answer):
    reservation = not_issued(konbini_shop, sandbox, lost_answer=lost_answer)
    english_client.force_login(operator)
    html = english_client.get(change_url(reservation)).content.decode()
    assert 'id="needs-attention"' in html and 'id="operation-issue_numbers"' in html
    if lost_answer:
        # Right after a lost create, Stripe's event log may not show it yet: nothing is issued again.
        early = confirm(english_client, reservation, "issue_numbers")
        assert "could not be issued" in messages_of(early)
        assert len(sandbox.calls("payment_intents.create")) == 1
        PaymentOperation.objects.filter(payment=reservation.payment, kind="issue_numbers").update(
            created_at=timezone.now() - EVENT_LOG_SETTLE - timedelta(seconds=1))
    done = confirm(english_client, reservation, "issue_numbers")
    assert "issued and e-mailed" in messages_of(done)
    assert fresh(reservation).payment.status == P.AWAITING_PAYMENT
    assert not needs_attention().exists()
    # A lost create is first settled by asking Stripe (here: it created nothing), then issued once.
    assert len(sandbox.calls("payment_intents.create")) == (2 if lost_answer else 1)


def test_one_off_payment_request_through_the_page(english_client, konbini_shop, sandbox, operator, pay_links,
                                                  django_capture_on_commit_callbacks):
    reservation = expired(konbini_shop, sandbox)
    old = reservation.payment
    english_client.force_login(operator)
    assert 'id="operation-request_payment"' in english_client.get(change_url(reservation)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = confirm(english_client, reservation, "request_payment")
    assert "one-off payment request for ¥3,000 was e-mailed to hanako@example.com" in messages_of(done)
    reservation = fresh(reservation)
    new = reservation.payment
    assert new.pk != old.pk and new.status == P.UNPROCESSED and new.amount == 3000
    assert Payment.objects.get(pk=old.pk).replaced_by_id == new.pk
    assert Payment.objects.get(pk=old.pk).status == P.EXPIRED  # the expired one stays as a record
    assert reservation.status == R.CONFIRMED and not needs_attention().exists()
    request_mails = [m for m in mail.outbox if m.to == [EMAIL] and "/reserve/pay/" in m.body]
    assert len(request_mails) == 1
    html = done.content.decode()
    assert 'id="replaced-payments"' in html and old.gateway_order_id in html
    # The old payment's page still leads to the reservation.
    old_page = english_client.get(reverse("admin:payments_payment_change", args=[old.pk])).content.decode()
    assert change_url(reservation) in old_page
    # A second request for the same reservation is refused: the current payment is not expired.
    again = english_client.get(operate_url(reservation, "request_payment"))
    assert 'id="operation-refused"' in again.content.decode()
    assert Payment.objects.filter(replaced_by__isnull=False).count() == 1


# --- who may see and act ---------------------------------------------------------------------------------

def test_another_shops_user_gets_404_and_changes_nothing(english_client, konbini_shop, other_shop, sandbox):
    reservation = expired(konbini_shop, sandbox)
    stranger = member(other_shop, "admin")
    english_client.force_login(stranger)
    assert english_client.get(change_url(reservation)).status_code == 404
    for operation in ("cancel", "request_payment"):
        assert english_client.get(operate_url(reservation, operation)).status_code == 404
        assert english_client.post(operate_url(reservation, operation), {"confirmed": "1"}).status_code == 404
    assert fresh(reservation).status == R.CONFIRMED and fresh(reservation).payment.status == P.EXPIRED
    assert not Payment.objects.filter(replaced_by__isnull=False).exists()


def test_viewer_sees_but_cannot_act(english_client, konbini_shop, sandbox):
    reservation = expired(konbini_shop, sandbox)
    viewer = member(konbini_shop, "viewer")
    english_client.force_login(viewer)
    html = english_client.get(change_url(reservation)).content.decode()
    assert 'id="operations-not-permitted"' in html and 'id="operation-cancel"' not in html
    assert 'id="reservation-payment-panel"' in html  # the panel itself is visible
    for operation in ("cancel", "request_payment"):
        assert english_client.get(operate_url(reservation, operation)).status_code == 403
        assert english_client.post(operate_url(reservation, operation), {"confirmed": "1"}).status_code == 403
    assert fresh(reservation).status == R.CONFIRMED and fresh(reservation).payment.status == P.EXPIRED
    assert sandbox.calls("payment_intents.cancel") == []


def test_unknown_operation_is_404(english_client, konbini_shop, operator):
    reservation = awaiting(konbini_shop)
    english_client.force_login(operator)
    assert english_client.get(operate_url(reservation, "delete")).status_code == 404


# --- the list's bulk actions go through payment_flow too ---------------------------------------------------

def test_bulk_cancel_shows_and_does_the_money_effect(english_client, konbini_shop, sandbox, operator):
    reservation = awaiting(konbini_shop)
    english_client.force_login(operator)
    data = {"action": "cancel_selected", "index": "0", "select_across": "0", "_selected_action": [reservation.pk]}
    page = english_client.post(reverse(CHANGELIST), data).content.decode()
    assert 'class="preview-money"' in page and "cancelled at Stripe" in page
    assert sandbox.calls("payment_intents.cancel") == []
    done = english_client.post(reverse(CHANGELIST), {**data, "confirmed": "1"}, follow=True)
    assert "cancelled at Stripe" in messages_of(done)
    assert sandbox.stripe_intent(reservation.payment.external_id)["status"] == "canceled"
    assert fresh(reservation).status == R.CANCELLED
    assert PaymentOperation.objects.filter(payment=reservation.payment, kind=OperationKind.CANCEL).count() == 1


def test_bulk_approve_issues_the_numbers(english_client, konbini_shop, operator):
    reservation = pending(konbini_shop)
    english_client.force_login(operator)
    data = {"action": "approve_selected", "index": "0", "select_across": "0", "_selected_action": [reservation.pk]}
    page = english_client.post(reverse(CHANGELIST), data).content.decode()
    assert "Issue konbini payment numbers for ¥3,000" in page
    english_client.post(reverse(CHANGELIST), {**data, "confirmed": "1"}, follow=True)
    assert fresh(reservation).payment.status == P.AWAITING_PAYMENT
