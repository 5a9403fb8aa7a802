"""The run's pages: progress with live JSON, the item table, CSV, Resume, and shop scoping."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bulk.models import BulkRun, BulkRunItem
from payments.models import Payment, Status
from tests.bulk.helpers import make_run, rows
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db
State = BulkRunItem.State


def url(name, run, query=""):
    return reverse(f"admin:bulk_bulkrun_{name}", args=[run.pk]) + query


def finish(run, state=State.SUCCEEDED, **fields):
    run.items.filter(state=State.PENDING).update(state=state, **fields)


def test_progress_page_counts_table_and_json(client, shop, operator):
    payments = rows(shop, 4) + rows(shop, 1, status=Status.VOIDED)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    first, second = run.items.filter(state=State.PENDING).order_by("pk")[:2]
    BulkRunItem.objects.filter(pk=first.pk).update(state=State.SUCCEEDED, gateway_job="SALES", message="ok")
    BulkRunItem.objects.filter(pk=second.pk).update(state=State.FAILED, gateway_job="SALES", gateway_code="E01050004",
                                                    message="refused")
    client.force_login(operator)

    page = client.get(url("change", run))

    assert page.status_code == 200
    html = page.content.decode()
    for element, value in (("bulk-done", 1), ("bulk-failed", 1), ("bulk-skipped", 1), ("bulk-remaining", 2),
                           ("bulk-total", 5)):
        assert f'id="{element}">{value}<' in html
    assert 'id="bulk-status" data-status="pending"' in html
    assert html.count('class="bulk-item ') == 5 and "E01050004" in html and payments[0].gateway_order_id in html
    assert 'id="bulk-resume"' in html and "setTimeout(poll, 1000)" in html  # not finished: live and resumable
    data = client.get(url("status", run)).json()
    assert {k: data[k] for k in ("done", "failed", "skipped", "remaining", "total", "status", "finished")} == {
        "done": 1, "failed": 1, "skipped": 1, "remaining": 2, "total": 5, "status": "pending", "finished": False}

    failed_only = client.get(url("change", run, "?state=failed")).content.decode()
    assert failed_only.count('class="bulk-item ') == 1 and "bulk-item-failed" in failed_only


def test_finished_run_stops_polling_and_offers_no_resume(client, shop, operator):
    rows(shop, 2)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    finish(run)
    BulkRun.objects.filter(pk=run.pk).update(status=BulkRun.Status.DONE)
    client.force_login(operator)
    html = client.get(url("change", run)).content.decode()
    assert 'data-status="done"' in html and "setTimeout" not in html and 'id="bulk-resume"' not in html
    assert client.get(url("status", run)).json()["finished"] is True


def test_item_table_is_paginated_and_its_queries_do_not_grow(client, shop, operator):
    rows(shop, 3)
    small = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    rows(shop, 150)
    large = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    client.force_login(operator)
    client.get(url("change", small))  # warm the session

    counts = []
    for run in (small, large):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("change", run))
        counts.append(len(queries))
    assert counts[0] == counts[1]
    html = response.content.decode()
    assert html.count('class="bulk-item ') == 100 and 'id="bulk-page-next"' in html
    assert client.get(url("change", large, "?page=2")).content.decode().count('class="bulk-item ') == 53


def test_resume_queues_the_task_after_commit(client, shop, operator, django_capture_on_commit_callbacks):
    rows(shop, 2)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url("resume", run))
    assert response.status_code == 302 and len(callbacks) == 1
    assert client.get(url("resume", run)).status_code == 405


def test_resume_needs_the_runs_permission(client, shop, operator):
    rows(shop, 1)
    run = make_run(operator, "cancel", Payment.objects.filter(shop=shop))
    viewer = member(shop, "viewer")
    client.force_login(viewer)
    assert client.get(url("change", run)).status_code == 200  # may look
    assert 'id="bulk-resume"' not in client.get(url("change", run)).content.decode()
    assert client.post(url("resume", run)).status_code == 403


def test_csv_is_utf8_with_bom_and_holds_only_the_runs_items(client, shop, operator):
    mine = rows(shop, 2)
    run = make_run(operator, "capture", Payment.objects.filter(pk__in=[p.pk for p in mine]))
    finish(run, message="=cmd|' /C calc'!A0")  # a formula-looking message stays text in Excel
    other = rows(shop, 1)
    make_run(operator, "capture", Payment.objects.filter(pk=other[0].pk))
    client.force_login(operator)

    response = client.get(url("csv", run))

    assert response["Content-Type"].startswith("text/csv") and response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(lines) == 3
    assert {line[0] for line in lines[1:]} == {p.gateway_order_id for p in mine}
    assert other[0].gateway_order_id not in body
    assert all(line[5].startswith("'=") for line in lines[1:])


def test_another_shops_run_is_a_404_everywhere(client, shop, other_shop, operator):
    rows(other_shop, 2)
    theirs = make_run(member(other_shop, "operator"), "capture", Payment.objects.filter(shop=other_shop))
    rows(shop, 1)
    mine = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    client.force_login(operator)

    for name in ("change", "status", "csv"):
        assert client.get(url(name, theirs)).status_code == 404
        assert client.get(url(name, mine)).status_code == 200
    assert client.post(url("resume", theirs)).status_code == 404
    listing = client.get(reverse("admin:bulk_bulkrun_changelist"))
    assert [r.pk for r in listing.context["cl"].result_list] == [mine.pk]


def test_a_run_spanning_two_shops_is_hidden_from_a_member_of_one(client, shop, other_shop, operator):
    rows(shop, 1)
    rows(other_shop, 1)
    boss = UserFactory(is_superuser=True)
    both = make_run(boss, "capture", Payment.objects.all())
    assert set(both.shops.all()) == {shop, other_shop}
    client.force_login(operator)
    assert client.get(url("change", both)).status_code == 404
    member(other_shop, "viewer", user=operator)
    client.force_login(operator)
    assert client.get(url("change", both)).status_code == 200
