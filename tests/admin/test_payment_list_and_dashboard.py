"""The payment list's filters (status, method, shop, JST date ranges, needs attention) and the dashboard."""

import itertools
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments import services
from payments.actors import Actor
from payments.admin import PaymentAdmin
from payments.admin_filters import parse_day
from payments.dashboard import dashboard_for
from payments.errors import GatewayDeclined
from payments.models import OperationKind, OperationState, Payment, PaymentOperation, Status
from tests.factories import ShopFactory, UserFactory, card_payment, member

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
K = OperationKind
S = OperationState
_numbers = itertools.count(1)


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def list_url() -> str:
    return reverse("admin:payments_payment_changelist")


def pay(shop, status=Status.AUTHORIZED, amount=1000, **fields) -> Payment:
    """A payment row in any state, cheaply (status is a protected FSM field: set through update())."""
    n = next(_numbers)
    payment = Payment.objects.create(shop=shop, amount=amount, gateway_order_id=f"T-{n:06d}", reference=f"R-{n}")
    Payment.objects.filter(pk=payment.pk).update(status=status, **fields)
    return payment


def op(payment, kind, state=S.SUCCEEDED, *, job="", amount=0, previous=0, before="", at=None) -> PaymentOperation:
    operation = PaymentOperation.objects.create(
        payment=payment, kind=kind, state=state, idempotency_key=f"test:{uuid.uuid4()}", gateway_job=job,
        amount=amount, previous_amount=previous, status_before=before, actor_label="test")
    if at is not None:
        PaymentOperation.objects.filter(pk=operation.pk).update(created_at=at)
    return operation


def listed(client, **params) -> set[int]:
    response = client.get(list_url(), params)
    assert response.status_code == 200
    return {p.pk for p in response.context["cl"].result_list}


def ids(*payments) -> set[int]:
    return {p.pk for p in payments}


# --- filters ----------------------------------------------------------------------------------------

def test_status_method_and_shop_filters_stay_in_the_users_shops(client, shop, other_shop, operator):
    second = ShopFactory()
    member(second, "viewer", user=operator)
    authorized, captured, elsewhere = pay(shop), pay(shop, Status.CAPTURED), pay(second, Status.CAPTURED)
    theirs = pay(other_shop)
    client.force_login(operator)
    assert listed(client, status__exact="authorized") == ids(authorized)
    assert listed(client, status__exact="captured") == ids(captured, elsewhere)
    assert listed(client, method__exact="card") == ids(authorized, captured, elsewhere)
    assert listed(client, shop__id__exact=second.pk) == ids(elsewhere)
    assert listed(client, shop__id__exact=other_shop.pk) == set()
    response = client.get(list_url())
    shop_spec = next(s for s in response.context["cl"].filter_specs if getattr(s, "field_path", "") == "shop")
    assert {pk for pk, _ in shop_spec.lookup_choices} == {shop.pk, second.pk}
    assert theirs.gateway_order_id not in response.content.decode()


@pytest.mark.parametrize("field", ["authorized_at", "captured_at", "created_at"])
def test_date_range_is_jst_calendar_days(client, shop, other_shop, operator, field):
    before = pay(shop, **{field: jst(2026, 3, 9, 23, 59, 59)})
    first = pay(shop, **{field: jst(2026, 3, 10, 0, 0)})
    last = pay(shop, **{field: jst(2026, 3, 10, 23, 59)})
    after = pay(shop, **{field: jst(2026, 3, 11, 0, 0)})
    pay(other_shop, **{field: jst(2026, 3, 10, 12, 0)})
    client.force_login(operator)
    assert listed(client, **{f"{field}__from": "2026-03-10", f"{field}__to": "2026-03-10"}) == ids(first, last)
    assert listed(client, **{f"{field}__from": "2026-03-11"}) == ids(after)
    assert listed(client, **{f"{field}__to": "2026-03-09"}) == ids(before)
    assert listed(client, **{f"{field}__from": "2026/03/10", f"{field}__to": "2026/03/11"}) == ids(first, last, after)


def test_date_range_form_keeps_the_other_filters(client, shop, operator):
    client.force_login(operator)
    page = client.get(list_url(), {"status__exact": "authorized", "q": "R-", "authorized_at__from": "2026-03-10"})
    html = page.content.decode()
    form = re.search(r'<form method="get" class="date-range-filter" id="date-range-authorized_at">(.*?)</form>',
                     html, re.S).group(1)
    assert '<input type="hidden" name="status__exact" value="authorized">' in form
    assert '<input type="hidden" name="q" value="R-">' in form
    assert 'name="authorized_at__from" id="date-range-authorized_at-from" value="2026-03-10"' in form
    assert 'type="hidden" name="authorized_at__from"' not in form


def test_needs_attention_filter(client, shop, other_shop, operator):
    second = ShopFactory(expiry_warning_days=3)
    member(second, "viewer", user=operator)
    shop.expiry_warning_days = 12
    shop.save()
    now = timezone.now()

    pending = pay(shop, Status.UNPROCESSED)
    op(pending, K.AUTHORIZE, S.PENDING, job="AUTH")
    unknown = pay(shop, Status.CAPTURED)
    op(unknown, K.CANCEL, S.UNKNOWN, job="VOID", before=Status.CAPTURED)
    only_sync_pending = pay(shop, Status.CAPTURED)
    op(only_sync_pending, K.SYNC, S.PENDING, job="SearchTrade")
    their_pending = pay(other_shop, Status.UNPROCESSED)
    op(their_pending, K.AUTHORIZE, S.PENDING, job="AUTH")

    failed = pay(shop)
    op(failed, K.AUTHORIZE, job="AUTH")
    op(failed, K.CAPTURE, S.FAILED, job="SALES")
    op(failed, K.SYNC, job="SearchTrade")  # a status check after it does not settle anything
    reauthorized_since = pay(shop)
    op(reauthorized_since, K.CAPTURE, S.FAILED, job="SALES")
    op(reauthorized_since, K.CHANGE_AMOUNT, job="AUTH", before=Status.AUTHORIZED)
    captured_since = pay(shop, Status.CAPTURED)
    op(captured_since, K.CAPTURE, S.FAILED, job="SALES")
    op(captured_since, K.CAPTURE, job="SALES")
    their_failed = pay(other_shop)
    op(their_failed, K.CAPTURE, S.FAILED, job="SALES")

    in2 = pay(shop, authorization_expires_at=now + timedelta(days=2))
    in5 = pay(shop, authorization_expires_at=now + timedelta(days=5))
    in10 = pay(shop, authorization_expires_at=now + timedelta(days=10))
    in13 = pay(shop, authorization_expires_at=now + timedelta(days=13))
    pay(shop, authorization_expires_at=now + timedelta(days=30))
    second_in5 = pay(second, authorization_expires_at=now + timedelta(days=5))  # that shop warns 3 days before
    pay(shop, Status.CAPTURED, authorization_expires_at=now + timedelta(days=2))
    pay(other_shop, authorization_expires_at=now + timedelta(days=2))
    past_validity = pay(shop, authorization_expires_at=now - timedelta(hours=1))
    marked_expired = pay(shop, Status.AUTH_EXPIRED, authorization_expires_at=now - timedelta(days=3))
    pay(other_shop, Status.AUTH_EXPIRED)

    client.force_login(operator)
    assert listed(client, attention="unresolved") == ids(pending, unknown)
    assert listed(client, attention="capture_failed") == ids(failed)
    assert listed(client, attention="expiring_3") == ids(in2)
    assert listed(client, attention="expiring_7") == ids(in2, in5, second_in5)
    assert listed(client, attention="expiring_14") == ids(in2, in5, in10, in13, second_in5)
    assert listed(client, attention="expiring") == ids(in2, in5, in10)
    assert listed(client, attention="expired") == ids(past_validity, marked_expired)


@pytest.mark.parametrize("params", [
    {"authorized_at__from": "2026-13-45"},
    {"captured_at__to": "abc"},
    {"created_at__from": "0000-00-00"},
    {"created_at__from": "0001-01-01", "created_at__to": "9999-12-31"},
    {"authorized_at__from": "2026-03-10", "authorized_at__to": "2026-02-30"},
    {"attention": "bogus"},
    {"shop__id__exact": "abc"},
])
def test_bad_filter_input_is_ignored_not_a_500(client, shop, operator, params):
    member(ShopFactory(), "viewer", user=operator)  # two shops: the shop filter is shown and active
    mine = pay(shop, authorized_at=jst(2026, 3, 12, 9, 0))
    client.force_login(operator)
    response = client.get(list_url(), params)
    assert response.status_code == 200
    assert {p.pk for p in response.context["cl"].result_list} == ids(mine)  # ignored, or the valid half applies
    for name, value in params.items():
        if name.endswith(("__from", "__to")) and parse_day(value) is None:
            assert value in response.content.decode()  # shown back as ignored


def test_parse_day():
    assert parse_day("2026-03-10").isoformat() == "2026-03-10"
    assert parse_day(" 2026/03/10 ").isoformat() == "2026-03-10"
    for raw in ("", None, "2026-13-45", "2026-02-30", "abc", "0001-01-01", "9999-12-31"):
        assert parse_day(raw) is None


# --- query counts ------------------------------------------------------------------------------------

def _rows(shop, n):
    now = timezone.now()
    for i in range(n):
        payment = pay(shop, [Status.AUTHORIZED, Status.CAPTURED, Status.AUTH_EXPIRED][i % 3],
                      authorized_at=now - timedelta(days=1), captured_at=now,
                      authorization_expires_at=now + timedelta(days=i % 20))
        op(payment, K.AUTHORIZE, job="AUTH")
        op(payment, K.CAPTURE, [S.FAILED, S.SUCCEEDED, S.PENDING][i % 3], job="SALES")


def _count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as queries:
        fn()
    return len(queries)


LIST_VARIANTS = [
    {},
    {"attention": "capture_failed", "status__exact": "authorized"},
    {"attention": "expiring", "authorized_at__from": "2000-01-01", "captured_at__to": "2999-12-31"},
    {"attention": "unresolved", "_facets": "1"},
]


def test_list_query_count_does_not_grow_with_rows(client, shop, other_shop, operator):
    member(other_shop, "viewer", user=operator)
    client.force_login(operator)

    def counts():
        result = []
        for params in LIST_VARIANTS:
            def get(params=params):
                assert client.get(list_url(), params).status_code == 200
            result.append(_count_queries(get))
        return result

    _rows(shop, 5)
    few = counts()
    _rows(shop, 45)
    _rows(other_shop, 5)
    assert len(client.get(list_url()).context["cl"].result_list) == 55
    assert counts() == few


def _badge_changelist(user):
    request = RequestFactory().get(list_url())
    request.user = user
    response = PaymentAdmin(Payment, admin.site).changelist_view(request)
    response.render()
    return response


def test_attention_column_for_payment_admin_needs_no_query_per_row(shop, operator):
    """The list's attention column: right badges, constant queries."""
    now = timezone.now()
    failed = pay(shop, authorization_expires_at=now + timedelta(days=2))
    op(failed, K.CAPTURE, S.FAILED, job="SALES")
    busy = pay(shop, Status.CAPTURED)
    op(busy, K.CANCEL, S.UNKNOWN, job="VOID")
    expired = pay(shop, Status.AUTH_EXPIRED)
    calm = pay(shop, Status.CAPTURED)
    response = _badge_changelist(operator)
    model_admin = response.context_data["cl"].model_admin
    badges = {p.pk: model_admin.attention(p) for p in response.context_data["cl"].result_list}
    assert "attention-capture_failed" in badges[failed.pk] and "attention-expiring" in badges[failed.pk]
    assert "attention-unresolved" in badges[busy.pk] and "attention-capture_failed" not in badges[busy.pk]
    assert "attention-expired" in badges[expired.pk]
    assert badges[calm.pk] == ""

    _rows(shop, 5)
    few = _count_queries(lambda: _badge_changelist(operator))
    _rows(shop, 45)
    assert _count_queries(lambda: _badge_changelist(operator)) == few


# --- dashboard ---------------------------------------------------------------------------------------

def data_attr(html: str, element_id: str, name: str) -> str:
    tag = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', html).group(0)
    return re.search(rf'\b{name}="([^"]*)"', tag).group(1)


def href(html: str, element_id: str) -> str:
    return data_attr(html, element_id, "href").replace("&amp;", "&")


NOW = jst(2026, 3, 11, 10, 0)


def _money_day(shop, other_shop):
    """Operations of 2026-03-11 (JST) and around it; captured ¥9,900 in 6, refunded ¥3,100 in 3."""
    sale = pay(shop, Status.CAPTURED, amount=3000)
    today = jst(2026, 3, 11, 9, 0)
    op(sale, K.CAPTURE, job="SALES", amount=3000, before=Status.AUTHORIZED, at=today)
    op(sale, K.CAPTURE, job="SALES", amount=700, before=Status.AUTHORIZED, at=jst(2026, 3, 11, 0, 0))
    op(sale, K.CAPTURE, job="SALES", amount=5000, before=Status.AUTHORIZED, at=jst(2026, 3, 10, 23, 59))
    op(sale, K.CAPTURE, S.FAILED, job="SALES", amount=8000, before=Status.AUTHORIZED, at=today)
    op(sale, K.AUTHORIZE, job="CAPTURE", amount=2000, before=Status.UNPROCESSED, at=today)
    op(sale, K.AUTHORIZE, job="AUTH", amount=4000, before=Status.UNPROCESSED, at=today)
    op(sale, K.REAUTHORIZE, job="CAPTURE", amount=1200, previous=1200, before=Status.VOIDED, at=today)
    op(sale, K.CHANGE_AMOUNT, job="CAPTURE", amount=2500, previous=3000, before=Status.AUTHORIZED, at=today)
    op(sale, K.CHANGE_AMOUNT, job="AUTH", amount=2500, previous=3000, before=Status.AUTHORIZED, at=today)
    op(sale, K.CHANGE_AMOUNT, job="CAPTURE", amount=3500, previous=3000, before=Status.CAPTURED, at=today)
    op(sale, K.CHANGE_AMOUNT, job="CAPTURE", amount=2000, previous=3000, before=Status.CAPTURED, at=today)
    op(sale, K.CANCEL, job="RETURN", amount=1500, previous=1500, before=Status.CAPTURED, at=today)
    op(sale, K.CANCEL, job="VOID", amount=600, previous=600, before=Status.CAPTURED_IMMEDIATELY, at=today)
    op(sale, K.CANCEL, job="VOID", amount=4000, previous=4000, before=Status.AUTHORIZED, at=today)
    op(sale, K.CANCEL, job="RETURN", amount=900, previous=900, before=Status.CAPTURED,
       at=jst(2026, 3, 10, 23, 59))
    op(sale, K.CANCEL, S.FAILED, job="RETURN", amount=900, before=Status.CAPTURED, at=today)
    op(sale, K.EXPIRE, amount=3000, previous=3000, before=Status.AUTHORIZED, at=today)
    theirs = pay(other_shop, Status.CAPTURED, amount=9999)
    op(theirs, K.CAPTURE, job="SALES", amount=9999, before=Status.AUTHORIZED, at=today)
    op(theirs, K.CANCEL, job="RETURN", amount=9999, before=Status.CAPTURED, at=today)


def _attention_rows(shop, other_shop):
    busy = pay(shop, Status.UNPROCESSED)
    op(busy, K.AUTHORIZE, S.UNKNOWN, job="AUTH")
    failed = pay(shop, authorization_expires_at=NOW + timedelta(days=60))
    op(failed, K.CAPTURE, S.FAILED, job="SALES")
    pay(shop, authorization_expires_at=NOW + timedelta(days=2))  # shop warns 7 days before
    pay(shop, authorization_expires_at=NOW - timedelta(minutes=1))
    pay(shop, Status.AUTH_EXPIRED)
    pay(shop, Status.VOIDED)
    pay(shop, Status.CAPTURED_IMMEDIATELY)
    for status in (Status.AUTHORIZED, Status.AUTH_EXPIRED, Status.CAPTURED):
        theirs = pay(other_shop, status, authorization_expires_at=NOW + timedelta(days=1))
        op(theirs, K.CAPTURE, S.FAILED, job="SALES")


def test_dashboard_figures_and_links(client, shop, other_shop, operator):
    with time_machine.travel(NOW, tick=False):
        _money_day(shop, other_shop)
        _attention_rows(shop, other_shop)
        figures = dashboard_for(operator)
        client.force_login(operator)
        html = client.get(reverse("admin:index")).content.decode()

        assert (figures.captured.count, figures.captured.yen) == (6, 9900)
        assert (figures.refunded.count, figures.refunded.yen) == (3, 3100)
        assert figures.day.isoformat() == "2026-03-11" and figures.shop_names == [shop.name]
        statuses = {f.key: f.count for f in figures.statuses}
        assert statuses == {"unprocessed": 1, "authorized": 3, "captured": 1, "captured_immediately": 1,
                            "voided": 1, "returned": 0, "returned_across_month": 0, "auth_expired": 1, "failed": 0,
                            "needs_confirmation": 0, "cancelled": 0, "capture_failed": 0, "payment_failed": 0,
                            "awaiting_approval": 0, "awaiting_payment": 0, "paid": 0, "expired": 0}
        attention = {f.key: f.count for f in figures.attention}
        assert attention == {"unresolved": 1, "capture_failed": 1, "expiring": 1, "expired": 2}

        assert 'id="dashboard"' in html
        assert data_attr(html, "dashboard-captured-today", "data-count") == "6"
        assert data_attr(html, "dashboard-captured-today", "data-yen") == "9900"
        assert data_attr(html, "dashboard-refunded-today", "data-yen") == "3100"
        assert "¥9,900" in html and "¥3,100" in html
        assert "仮売上" in html and "仮売上期限切れ" in html  # statuses under their Japanese names
        assert data_attr(html, "dashboard-status-total", "data-count") == "8"
        for key, count in statuses.items():
            assert data_attr(html, f"dashboard-status-{key}", "data-count") == str(count)
            url = href(html, f"dashboard-status-{key}")
            assert url == f"{list_url()}?status__exact={key}"
            assert len(client.get(url).context["cl"].result_list) == count
        for key, count in attention.items():
            assert data_attr(html, f"dashboard-attention-{key}", "data-count") == str(count)
            url = href(html, f"dashboard-attention-{key}")
            assert url == f"{list_url()}?attention={key}"
            assert len(client.get(url).context["cl"].result_list) == count


def test_dashboard_through_the_gateway(client, shop, sandbox, operator):
    """Real operations via the sandbox: 仮売上 is no capture; a capture and its same-day cancel are."""
    actor = Actor.for_user(operator)
    held = card_payment(shop, sandbox, amount=4400)
    figures = dashboard_for(operator)
    assert (figures.captured.count, figures.refunded.count) == (0, 0)
    services.capture_payment(held, by=actor)
    held.refresh_from_db()
    figures = dashboard_for(operator)
    assert (figures.captured.count, figures.captured.yen) == (1, 4400)
    services.cancel_payment(held, by=actor)
    released = card_payment(shop, sandbox, amount=1000, reference="ORDER-2")
    services.cancel_payment(released, by=actor)  # only releases the authorization: no refund
    failing = card_payment(shop, sandbox, amount=700, reference="ORDER-3")
    sandbox.set_faults(rules=[{"api": "AlterTran", "action": "error", "err_code": "E01",
                               "err_info": "E01050004", "times": 1}])
    with pytest.raises(GatewayDeclined):
        services.capture_payment(failing, by=actor)
    figures = dashboard_for(operator)
    assert (figures.refunded.count, figures.refunded.yen) == (1, 4400)
    assert {f.key: f.count for f in figures.attention}["capture_failed"] == 1
    client.force_login(operator)
    html = client.get(reverse("admin:index")).content.decode()
    assert data_attr(html, "dashboard-captured-today", "data-yen") == "4400"
    assert data_attr(html, "dashboard-attention-capture_failed", "data-count") == "1"
    assert listed(client, attention="capture_failed") == ids(failing)


def test_admin_index_query_count_is_constant(client, shop, other_shop, operator):
    client.force_login(operator)

    def index():
        response = client.get(reverse("admin:index"))
        assert response.status_code == 200 and 'id="dashboard"' in response.content.decode()

    _rows(shop, 5)
    few = _count_queries(index)
    _rows(shop, 45)
    _rows(other_shop, 20)
    assert _count_queries(index) == few


def test_another_shops_payments_are_never_counted(client, shop, other_shop, operator):
    theirs = pay(other_shop, Status.CAPTURED, amount=5000)
    op(theirs, K.CAPTURE, job="SALES", amount=5000, before=Status.AUTHORIZED)
    op(pay(other_shop), K.CAPTURE, S.FAILED, job="SALES")
    figures = dashboard_for(operator)
    assert sum(f.count for f in figures.statuses) == 0 and sum(f.count for f in figures.attention) == 0
    assert figures.captured.yen == 0
    client.force_login(operator)
    html = client.get(reverse("admin:index")).content.decode()
    assert other_shop.name not in html and data_attr(html, "dashboard-status-total", "data-count") == "0"


def test_superuser_sees_all_shops_and_a_non_member_no_dashboard(client, admin_client, shop, other_shop):
    pay(shop, Status.CAPTURED)
    pay(other_shop, Status.CAPTURED)
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert data_attr(html, "dashboard-status-captured", "data-count") == "2"
    client.force_login(UserFactory())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200 and 'id="dashboard"' not in response.content.decode()

