"""The claim list (filters, no N+1), the claim page's steps behind a confirm page (one-time key, scoping,
permissions) and the claim board (each count agrees with the list its link opens)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from claims import services
from claims.models import Claim, ClaimKind, ClaimState, Party, Reason, RefundState
from orders.models import Delivery, Order
from orders.services import LineInput, place_card_order
from payments.actors import Actor
from payments.models import Status

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("test")
CUSTOMER = Actor.system("customer")


def card_order(shop, sandbox, delivery=Delivery.PREPARING, amount=3300, number=None) -> Order:
    order = place_card_order(shop, lines=[LineInput("抹茶ラテ", 3, amount // 3)], total=amount,
                             customer_name="山田 太郎", customer_email="taro@example.jp",
                             token=sandbox.create_token("4111111111111111"), by=SYSTEM, number=number)
    Order.objects.filter(pk=order.pk).update(delivery_status=delivery)
    order.refresh_from_db()
    return order


def plain_claim(shop, number, **fields) -> Claim:
    """A claim row for the list and board (no payment needed to list it)."""
    order = Order.objects.create(shop=shop, number=number, customer_name=f"客 {number}", total=1000,
                                 delivery_status=Delivery.PREPARING)
    values = {"kind": ClaimKind.CANCEL, "requested_by": Party.CUSTOMER, "reason": Reason.CUSTOMER_REQUEST,
              "state": ClaimState.REQUESTED, **fields}
    return Claim.objects.create(shop=shop, order=order, **values)


def step_url(claim, step):
    return reverse("admin:claims_claim_step", args=[claim.pk, step])


def changelist():
    return reverse("admin:claims_claim_changelist")


# --- list ---------------------------------------------------------------------------------------------------


def test_list_columns_and_no_n_plus_one(english_client, shop, operator):
    english_client.force_login(operator)
    plain_claim(shop, "L-1")
    with CaptureQueriesContext(connection) as few:
        assert english_client.get(changelist()).status_code == 200
    for n in range(2, 8):
        plain_claim(shop, f"L-{n}", kind=ClaimKind.RETURN, reason=Reason.DEFECT, requested_by=Party.SELLER,
                    state=ClaimState.DONE, refund_state=RefundState.DONE, refund_amount=1000)
    with CaptureQueriesContext(connection) as many:
        response = english_client.get(changelist())
    assert len(many) == len(few)
    html = response.content.decode()
    assert "L-7" in html and "客 L-7" in html and "Return" in html and "Defect or damage" in html
    assert "Refund done ¥1,000" in html


def test_filters_and_withdrawal_deadline_passed(english_client, shop, other_shop, operator):
    english_client.force_login(operator)
    now = timezone.now()
    plain_claim(shop, "A-1")
    passed = plain_claim(shop, "A-2", state=ClaimState.WITHDRAWAL_REQUESTED,
                         withdrawal_deadline=now - timedelta(hours=1))
    plain_claim(shop, "A-3", state=ClaimState.WITHDRAWAL_REQUESTED, withdrawal_deadline=now + timedelta(days=1))
    plain_claim(other_shop, "B-1", state=ClaimState.WITHDRAWAL_REQUESTED,
                withdrawal_deadline=now - timedelta(hours=1))

    def listed(query):
        response = english_client.get(f"{changelist()}?{query}")
        return sorted(c.order.number for c in response.context["cl"].result_list)

    assert listed("") == ["A-1", "A-2", "A-3"]  # another shop's claims are not listed
    assert listed("withdrawal=expired") == [passed.order.number]
    assert listed("state__exact=withdrawal_requested") == ["A-2", "A-3"]
    assert listed("kind__exact=return") == []
    assert listed("requested_by__exact=customer&refund_state__exact=none") == ["A-1", "A-2", "A-3"]


# --- the claim page -------------------------------------------------------------------------------------


def test_another_shops_claim_is_404(english_client, shop, other_shop, operator):
    english_client.force_login(operator)
    foreign = plain_claim(other_shop, "B-1")
    assert english_client.get(reverse("admin:claims_claim_change", args=[foreign.pk])).status_code == 404
    assert english_client.get(step_url(foreign, "approve")).status_code == 404
    assert english_client.post(step_url(foreign, "refuse"), {"seller_memo": "x"}).status_code == 404


def test_staff_without_cancel_permission_sees_no_steps_and_cannot_run_them(english_client, shop, staff):
    english_client.force_login(staff)
    claim = plain_claim(shop, "S-1")
    html = english_client.get(reverse("admin:claims_claim_change", args=[claim.pk])).content.decode()
    assert 'id="claim-no-steps"' in html and "claim-step-approve" not in html
    assert english_client.get(step_url(claim, "approve")).status_code == 403


def test_approve_a_cancel_request_behind_the_confirm_page_once(english_client, shop, operator, sandbox):
    english_client.force_login(operator)
    order = card_order(shop, sandbox)
    claim = services.customer_cancel(order, by=CUSTOMER, note="不要になりました")
    assert claim.state == ClaimState.REQUESTED
    page = english_client.get(reverse("admin:claims_claim_change", args=[claim.pk])).content.decode()
    assert 'id="claim-step-approve"' in page and 'id="claim-step-ask_withdrawal"' in page

    confirm = english_client.post(step_url(claim, "approve"), {"seller_memo": "承知しました"})
    html = confirm.content.decode()
    assert confirm.context["stage"] == "confirm" and 'id="money-effect"' in html and "¥3,300" in html
    once = confirm.context["once"]
    claim.refresh_from_db()
    assert claim.state == ClaimState.REQUESTED  # nothing happens before the confirmation

    data = {"seller_memo": "承知しました", "confirmed": "1", "once": once}
    done = english_client.post(step_url(claim, "approve"), data)
    assert done.status_code == 302 and done["Location"] == reverse("admin:claims_claim_change", args=[claim.pk])
    claim.refresh_from_db()
    assert claim.state == ClaimState.DONE and claim.refund_state == RefundState.DONE and claim.refund_linked
    assert claim.seller_memo == "承知しました"
    order.payment.refresh_from_db()
    assert order.payment.status == Status.VOIDED
    calls = len(sandbox.calls("AlterTran"))

    again = english_client.post(step_url(claim, "approve"), data)  # a double click: the same one-time key
    assert again.status_code == 302 and len(sandbox.calls("AlterTran")) == calls
    result = english_client.get(again["Location"]).content.decode()
    assert "already done" in result and 'id="claim-no-steps"' in result


def test_ask_withdrawal_needs_a_future_deadline_then_refuse(english_client, shop, operator, sandbox):
    english_client.force_login(operator)
    claim = services.customer_cancel(card_order(shop, sandbox), by=CUSTOMER)
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    bad = english_client.post(step_url(claim, "ask_withdrawal"), {"deadline": past, "seller_memo": "発送済みです"})
    assert bad.context["stage"] == "form" and "must be in the future" in bad.content.decode()

    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    data = {"deadline": future, "seller_memo": "発送準備が完了しています"}
    confirm = english_client.post(step_url(claim, "ask_withdrawal"), data)
    assert "No money moves" in confirm.content.decode()
    english_client.post(step_url(claim, "ask_withdrawal"), {**data, "confirmed": "1", "once": confirm.context["once"]})
    claim.refresh_from_db()
    assert claim.state == ClaimState.WITHDRAWAL_REQUESTED and claim.withdrawal_deadline is not None

    confirm = english_client.post(step_url(claim, "refuse"), {"seller_memo": "キャンセルできません"})
    english_client.post(step_url(claim, "refuse"), {"seller_memo": "キャンセルできません", "confirmed": "1",
                                                    "once": confirm.context["once"]})
    claim.refresh_from_db()
    assert claim.state == ClaimState.REFUSED and claim.refund_state == RefundState.NONE


def test_a_step_not_possible_now_is_refused_with_its_reason(english_client, shop, operator):
    english_client.force_login(operator)
    claim = plain_claim(shop, "D-1", state=ClaimState.DONE)
    response = english_client.post(step_url(claim, "approve"), {"seller_memo": "", "confirmed": "1", "once": "x"})
    assert response.status_code == 200 and "is not possible now" in response.content.decode()
    claim.refresh_from_db()
    assert claim.state == ClaimState.DONE


# --- the board ------------------------------------------------------------------------------------------


def test_board_counts_agree_with_the_lists_their_links_open(english_client, shop, other_shop, operator):
    english_client.force_login(operator)
    now = timezone.now()
    plain_claim(shop, "C-1")
    plain_claim(shop, "C-2")
    plain_claim(shop, "C-3", state=ClaimState.IN_PROGRESS)
    plain_claim(shop, "C-4", state=ClaimState.DONE, refund_state=RefundState.DONE, refund_amount=1000)
    plain_claim(shop, "C-5", state=ClaimState.REFUSED)
    plain_claim(shop, "C-6", state=ClaimState.WITHDRAWAL_REQUESTED, withdrawal_deadline=now + timedelta(days=1))
    plain_claim(shop, "C-7", state=ClaimState.WITHDRAWAL_REQUESTED, withdrawal_deadline=now - timedelta(days=1))
    plain_claim(shop, "R-1", kind=ClaimKind.RETURN, requested_by=Party.SELLER, reason=Reason.DEFECT)
    plain_claim(shop, "R-2", kind=ClaimKind.RETURN, requested_by=Party.SELLER, reason=Reason.DEFECT,
                state=ClaimState.DONE, refund_state=RefundState.PARTIAL, refund_amount=500)
    plain_claim(shop, "X-1", kind=ClaimKind.EXCHANGE, requested_by=Party.SELLER, reason=Reason.WRONG_ITEM)
    plain_claim(shop, "U-1", kind=ClaimKind.NON_RECEIPT, reason=Reason.NOT_RECEIVED)
    plain_claim(other_shop, "O-1")  # never counted for this user

    response = english_client.get(reverse("admin:claims_board"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert len(rows) >= 12 and sum(row["count"] for row in rows) > 0
    html = response.content.decode()
    for row in rows:
        assert row["url"] in html.replace("&amp;", "&")
        listed = english_client.get(row["url"])
        assert listed.status_code == 200, row
        assert listed.context["cl"].result_count == row["count"], row
    counts = {str(row["label"]): row["count"] for row in rows}
    assert any(count == 2 for count in counts.values())  # cancel requested: C-1, C-2


def test_board_is_linked_from_the_dashboard_and_the_list(english_client, shop, operator):
    english_client.force_login(operator)
    plain_claim(shop, "C-1")
    board = reverse("admin:claims_board")
    assert f'href="{board}"' in english_client.get(reverse("admin:index")).content.decode()
    assert f'href="{board}"' in english_client.get(changelist()).content.decode()
