"""The confirm page of bulk capture / cancel: totals per gateway job, skips and why, and starting once."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bulk.models import BulkRun, BulkRunItem
from payments.models import Payment, Status
from tests.bulk.helpers import changelist, confirm_data, jobs, post_action, rows
from tests.factories import member

pytestmark = pytest.mark.django_db


def test_capture_confirm_shows_sales_total_and_skips(client, shop, operator):
    authorized = rows(shop, 1, amount=1000) + rows(shop, 1, amount=2000) + rows(shop, 1, amount=3500)
    captured = rows(shop, 1, status=Status.CAPTURED, captured=True)
    voided = rows(shop, 1, status=Status.VOIDED)
    client.force_login(operator)

    response = post_action(client, "capture", [p.pk for p in authorized + captured + voided])

    assert response.status_code == 200
    summary = response.context["summary"]
    assert jobs(summary) == {"SALES": (3, 6500)}
    assert summary.skipped_count == 2 and len(summary.skipped) == 2  # already captured / already cancelled
    page = response.content.decode()
    assert 'id="bulk-confirm-submit"' in page and 'data-job="SALES"' in page and "¥6,500" in page
    assert not BulkRun.objects.exists()  # nothing happens before the confirmation


def test_cancel_confirm_chooses_void_return_returnx_per_payment(client, shop, operator):
    today = rows(shop, 2, amount=1000)  # authorized today -> VOID
    earlier = rows(shop, 1, amount=2000)  # authorized 3 days ago -> RETURN
    Payment.objects.filter(pk=earlier[0].pk).update(authorized_at=timezone.now() - timedelta(days=3))
    last_month = rows(shop, 1, amount=4000, status=Status.CAPTURED, captured=True, days_ago=40)  # -> RETURNX
    unprocessed = rows(shop, 1, status=Status.UNPROCESSED)
    client.force_login(operator)

    response = post_action(client, "cancel", [p.pk for p in today + earlier + last_month + unprocessed])

    summary = response.context["summary"]
    assert jobs(summary) == {"VOID": (2, 2000), "RETURN": (1, 2000), "RETURNX": (1, 4000)}
    assert (summary.included, summary.total_amount, summary.skipped_count) == (4, 8000, 1)
    page = response.content.decode()
    assert page.index('data-job="VOID"') < page.index('data-job="RETURN"') < page.index('data-job="RETURNX"')


def test_double_submitted_confirm_creates_one_run(client, shop, operator):
    payments = rows(shop, 3) + rows(shop, 1, status=Status.CAPTURED, captured=True)
    client.force_login(operator)
    data = confirm_data(post_action(client, "capture", [p.pk for p in payments]))

    first = client.post(changelist(), data)
    second = client.post(changelist(), data)

    run = BulkRun.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/admin/bulk/bulkrun/{run.pk}/change/"
    assert run.kind == "capture" and run.created_by == operator and run.status == BulkRun.Status.PENDING
    states = sorted(run.items.values_list("state", flat=True))
    assert states == ["pending", "pending", "pending", "skipped"]  # the skip is in the report, with its reason
    assert run.items.get(state="skipped").message
    assert list(run.shops.all()) == [shop]


def test_confirm_starts_the_task_once_committed(client, shop, operator, django_capture_on_commit_callbacks):
    payments = rows(shop, 2)
    client.force_login(operator)
    data = confirm_data(post_action(client, "capture", [p.pk for p in payments]))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(changelist(), data)
    assert len(callbacks) == 1


def test_changed_selection_is_confirmed_again(client, shop, operator):
    payments = rows(shop, 3)
    client.force_login(operator)
    data = confirm_data(post_action(client, "capture", [p.pk for p in payments]))
    Payment.objects.filter(pk=payments[0].pk).update(status=Status.CAPTURED)  # someone captured it meanwhile

    response = client.post(changelist(), data)

    assert response.status_code == 200 and response.context["changed"]
    assert 'id="bulk-changed"' in response.content.decode()
    assert jobs(response.context["summary"]) == {"SALES": (2, 2000)}
    assert not BulkRun.objects.exists() and not BulkRunItem.objects.exists()


def test_select_across_takes_the_filter_and_never_newer_payments(client, shop, operator):
    authorized = rows(shop, 4, amount=500)
    rows(shop, 2, status=Status.CAPTURED, captured=True)  # filtered out by the list filter
    client.force_login(operator)
    query = "?status__exact=authorized"
    page_ids = [authorized[0].pk]  # select-across posts the visible page's ids; the filter decides

    response = post_action(client, "capture", page_ids, select_across=True, query=query)
    assert jobs(response.context["summary"]) == {"SALES": (4, 2000)}
    data = confirm_data(response)
    late = rows(shop, 1, amount=500)  # created after the confirm page: not part of what was confirmed

    redirect = client.post(f"{changelist()}{query}", data)

    assert redirect.status_code == 302
    run = BulkRun.objects.get()
    assert set(run.items.values_list("payment_id", flat=True)) == {p.pk for p in authorized}
    assert late[0].pk not in set(run.items.values_list("payment_id", flat=True))
    assert "status__exact=authorized" in run.description


def test_staff_is_refused_bulk_cancel_but_may_bulk_capture(client, shop, staff):
    payments = rows(shop, 2)
    client.force_login(staff)

    refused = post_action(client, "cancel", [p.pk for p in payments])
    assert refused.status_code == 302  # back to the list, with the reason
    listing = client.get(refused["Location"]).content.decode()
    assert "messagelist" in listing and "bulk-confirm-submit" not in listing

    allowed = post_action(client, "capture", [p.pk for p in payments])
    assert allowed.status_code == 200 and jobs(allowed.context["summary"]) == {"SALES": (2, 2000)}


def test_select_across_never_takes_payments_of_shops_without_permission(client, shop, other_shop, operator):
    mine = rows(shop, 2)
    theirs = rows(other_shop, 3)
    member(other_shop, "viewer", user=operator)  # sees shop B's payments, may not capture them
    client.force_login(operator)

    response = post_action(client, "capture", [mine[0].pk], select_across=True)
    summary = response.context["summary"]
    assert jobs(summary) == {"SALES": (2, 2000)}
    assert summary.skipped_count == 3  # listed as "no permission"
    client.post(changelist(), confirm_data(response))

    run = BulkRun.objects.get()
    assert set(run.items.values_list("payment_id", flat=True)) == {p.pk for p in mine}
    assert not run.items.filter(payment__in=theirs).exists()
    assert list(run.shops.all()) == [shop]


def test_user_of_shop_a_never_selects_shop_b(client, shop, other_shop, operator):
    mine = rows(shop, 1)
    theirs = rows(other_shop, 2)
    client.force_login(operator)
    response = post_action(client, "capture", [mine[0].pk, *(p.pk for p in theirs)])
    assert jobs(response.context["summary"]) == {"SALES": (1, 1000)}
    assert response.context["summary"].skipped_count == 0  # B's payments are not even in A's list


def _confirm_queries(client, ids) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = post_action(client, "cancel", ids)
    assert response.status_code == 200
    return len(queries)


def test_confirm_page_queries_do_not_grow_with_the_selection(client, shop, other_shop, operator):
    client.force_login(operator)
    member(other_shop, "operator", user=operator)
    small = rows(shop, 3)
    large = rows(shop, 60) + rows(other_shop, 60, status=Status.CAPTURED, captured=True)
    _confirm_queries(client, [p.pk for p in small])  # warm the session / permission caches alike
    assert _confirm_queries(client, [p.pk for p in small]) == _confirm_queries(client, [p.pk for p in large])


@pytest.mark.parametrize("action", ["capture", "cancel"])
def test_konbini_payments_are_skipped_with_where_to_operate_them(english_client, shop, operator, action):
    konbini = rows(shop, 2, status=Status.AWAITING_PAYMENT)
    Payment.objects.filter(pk__in=[p.pk for p in konbini]).update(method="konbini")
    english_client.force_login(operator)

    summary = post_action(english_client, action, [p.pk for p in konbini]).context["summary"]

    assert (summary.included, summary.skipped_count) == (0, 2)
    assert [reason for reason, _count in summary.skipped_lines] == [
        "Konbini payments are operated from their reservation page."]
    assert not BulkRun.objects.exists()
