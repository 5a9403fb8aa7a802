"""Claims list and detail API (issue #10): the admin list's filters (withdrawal, kind, state, refund state,
requested by, search), the shop's claims only, a fixed number of queries, never the internal memo."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from claims.models import Claim, ClaimKind, ClaimState, Party, Reason, RefundState
from orders.models import Order
from shops.api_scopes import Scope
from tests.api.conftest import api_client_for

pytestmark = pytest.mark.django_db
_numbers = itertools.count(1)


def claim(shop, *, kind=ClaimKind.CANCEL, state=ClaimState.DONE, requested_by=Party.CUSTOMER,
          reason=Reason.CUSTOMER_REQUEST, customer="山田 花子", **fields) -> Claim:
    """A claim row on an order row (no payment): enough for lists and filters."""
    n = next(_numbers)
    order = Order.objects.create(shop=shop, number=f"A-{n:05d}", customer_name=customer, total=5000)
    return Claim.objects.create(shop=shop, order=order, kind=kind, state=state, requested_by=requested_by,
                                reason=reason, **fields)


def ids(api, query: str = "") -> list[int]:
    response = api.get(f"/api/v1/claims/?{query}")
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_list_shows_only_the_shops_claims_newest_first(api, shop, other_shop):
    older = claim(shop)
    newer = claim(shop, kind=ClaimKind.RETURN, reason=Reason.DEFECT, state=ClaimState.REQUESTED,
                  internal_memo="INTERNAL-ONLY")
    claim(other_shop)
    response = api.get("/api/v1/claims/")
    assert [row["id"] for row in response.json()["results"]] == [newer.pk, older.pk]
    row = response.json()["results"][0]
    assert row["order"] == newer.order_id and row["order_number"] == newer.order.number
    assert row["customer_name"] == "山田 花子" and row["kind"] == ClaimKind.RETURN and row["kind_label"]
    assert "internal_memo" not in row and "INTERNAL-ONLY" not in response.content.decode()


def test_filters_mirror_the_admin_list(api, shop):
    now = timezone.now()
    running = claim(shop, state=ClaimState.WITHDRAWAL_REQUESTED, withdrawal_deadline=now + timedelta(days=1))
    expired = claim(shop, state=ClaimState.WITHDRAWAL_REQUESTED, withdrawal_deadline=now - timedelta(hours=1))
    refunded = claim(shop, requested_by=Party.SELLER, reason=Reason.OUT_OF_STOCK, refund_state=RefundState.DONE,
                     refund_amount=5000)
    returned = claim(shop, kind=ClaimKind.RETURN, reason=Reason.DEFECT, state=ClaimState.IN_PROGRESS,
                     customer="佐藤 一郎")

    assert ids(api, "withdrawal=running") == [running.pk]
    assert ids(api, "withdrawal=expired") == [expired.pk]
    assert set(ids(api, "kind=return")) == {returned.pk}
    assert set(ids(api, "state=withdrawal_requested&state=in_progress")) == {running.pk, expired.pk, returned.pk}
    assert ids(api, "refund_state=done") == [refunded.pk]
    assert ids(api, "requested_by=seller") == [refunded.pk]
    assert ids(api, "q=佐藤") == [returned.pk]
    assert ids(api, f"q={refunded.order.number.lower()}") == [refunded.pk]
    assert ids(api, f"order_number={expired.order.number}") == [expired.pk]
    assert ids(api, f"order={running.order_id}") == [running.pk]
    for bad in ("withdrawal=soon", "kind=refund", "state=open", "requested_by=nobody"):
        response = api.get(f"/api/v1/claims/?{bad}")
        assert response.status_code == 400, bad
        assert bad.split("=")[0] in response.json()["error"]["fields"]


def test_list_costs_a_fixed_number_of_queries(api, shop, django_assert_max_num_queries):
    claim(shop)
    with django_assert_max_num_queries(6) as one:
        assert len(ids(api)) == 1
    for _ in range(9):
        claim(shop)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(ids(api)) == 10


def test_detail_with_the_order_and_the_refund_route(api, other_api, shop):
    found = claim(shop, refund_state=RefundState.PENDING, refund_amount=3000, seller_memo="ご迷惑をおかけします",
                  internal_memo="INTERNAL-ONLY")
    response = api.get(f"/api/v1/claims/{found.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["order_detail"]["number"] == found.order.number and body["refund_amount"] == 3000
    assert body["seller_memo"] == "ご迷惑をおかけします" and body["refund_task"] is None
    assert "INTERNAL-ONLY" not in response.content.decode()
    assert other_api.get(f"/api/v1/claims/{found.pk}/").status_code == 404
    assert api.get("/api/v1/claims/999999/").status_code == 404


def test_reading_needs_the_read_scope(shop):
    claim(shop)
    no_read = api_client_for(shop, scopes=[Scope.ORDERS])
    response = no_read.get("/api/v1/claims/")
    assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"


def test_the_order_filter_takes_a_whole_id_only(api, shop):
    response = api.get("/api/v1/claims/", {"order": "2.5"})
    assert response.status_code == 400 and "order" in response.json()["error"]["fields"]
