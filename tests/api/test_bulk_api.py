"""Bulk runs API (issue #10): start a run over the shop's payments (scopes `bulk` + the kind's), its summary,
idempotency, progress and report; the run acts as its token (a revoked token stops the rest); a token sees only
runs touching its shop alone."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.utils import timezone

from api.models import IdempotencyRecord
from bulk import processing
from bulk.models import BulkRun, BulkRunItem
from bulk.processing import process_run
from payments.models import OperationKind, Payment, PaymentOperation, Status
from shops.api_scopes import Scope
from shops.models import ShopApiToken
from shops.roles import Role
from tests.api.conftest import api_client_for
from tests.bulk.helpers import make_run, rows, sales_calls
from tests.factories import card_payment, member

URL = "/api/v1/bulk-runs/"
BULK_CAPTURE = [Scope.READ, Scope.BULK, Scope.CAPTURE]
State = BulkRunItem.State


def client_for(shop, scopes=BULK_CAPTURE):
    client = api_client_for(shop, scopes=scopes)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def token_of(client) -> ShopApiToken:
    return ShopApiToken.objects.lookup(client._credentials["HTTP_AUTHORIZATION"].split()[1])


def start(client, ids, kind="capture", **headers):
    return client.post(URL, {"kind": kind, "payments": [getattr(p, "pk", p) for p in ids]}, format="json", **headers)


def nothing_created():
    return not BulkRun.objects.exists() and not BulkRunItem.objects.exists()


# --- the happy path, through the sandbox ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_capture_run_through_the_sandbox_acts_as_the_token(shop, sandbox, django_capture_on_commit_callbacks):
    api = client_for(shop)
    payments = [card_payment(shop, sandbox, amount=1000 + i, reference=f"ORDER-{i}") for i in range(3)]
    [captured] = rows(shop, 1, status=Status.CAPTURED, captured=True)
    sandbox.clear_calls()

    with django_capture_on_commit_callbacks() as queued:
        response = start(api, [*payments, captured])
    assert response.status_code == 201, response.json()
    assert len(queued) == 1  # the task is queued once the run is committed
    body = response.json()
    summary = body["summary"]
    assert summary["included"] == 3 and summary["total_amount"] == 1000 + 1001 + 1002
    assert summary["jobs"] == [{"job": "SALES", "label": "実売上 (SALES)", "count": 3, "amount": 3003}]
    assert summary["skipped_count"] == 1 and summary["skipped"] == [{"reason": "Already captured.", "count": 1}]
    run = BulkRun.objects.get()
    token = token_of(api)
    assert body["run"]["id"] == run.pk and body["run"]["status"] == "pending" and body["run"]["kind"] == "capture"
    assert (run.api_token_id, run.created_by_id, run.actor_label) == (token.pk, None, "API: test")
    assert body["run"]["counts"] == {"total": 4, "pending": 3, "processing": 0, "succeeded": 0, "failed": 0,
                                     "skipped": 1, "remaining": 3}
    assert list(run.shops.values_list("pk", flat=True)) == [shop.pk]

    assert process_run(run.pk).finished
    assert len(sales_calls(sandbox)) == 3
    assert set(Payment.objects.filter(pk__in=[p.pk for p in payments]).values_list("status", flat=True)) == {
        Status.CAPTURED}
    ops = PaymentOperation.objects.filter(kind=OperationKind.CAPTURE)
    assert {(op.actor_id, op.actor_label) for op in ops} == {(None, "API: test")}

    progress = api.get(f"{URL}{run.pk}/").json()
    assert progress["status"] == "done" and progress["finished"] is True
    assert progress["started_at"] and progress["finished_at"] and progress["started_by"] == "API: test"
    assert progress["counts"] == {"total": 4, "pending": 0, "processing": 0, "succeeded": 3, "failed": 0,
                                  "skipped": 1, "remaining": 0}

    report = api.get(f"{URL}{run.pk}/report/").json()
    assert [row["payment"] for row in report["results"]] == [p.pk for p in sorted([*payments, captured],
                                                                                  key=lambda p: p.pk)]
    done = next(row for row in report["results"] if row["payment"] == payments[0].pk)
    assert done["state"] == "succeeded" and done["gateway_job"] == "SALES" and done["processed_at"]
    assert done["order_id"] == payments[0].gateway_order_id and done["reference"] == "ORDER-0"
    skipped = api.get(f"{URL}{run.pk}/report/?state=skipped").json()["results"]
    assert [row["payment"] for row in skipped] == [captured.pk] and skipped[0]["message"]
    assert api.get(f"{URL}{run.pk}/report/?state=remaining").json()["results"] == []
    assert api.get(f"{URL}{run.pk}/report/?state=nope").status_code == 400


@pytest.mark.redis
def test_a_celery_worker_processes_a_run_started_through_the_api(celery_worker, shop, sandbox):
    api = client_for(shop)
    payments = [card_payment(shop, sandbox, amount=2000 + i) for i in range(5)]
    sandbox.clear_calls()
    response = start(api, payments, HTTP_IDEMPOTENCY_KEY="worker-run")  # commits, then queues the task
    assert response.status_code == 201, response.json()
    run_id = response.json()["run"]["id"]
    deadline = time.monotonic() + 90
    while api.get(f"{URL}{run_id}/").json()["status"] != "done":
        assert time.monotonic() < deadline, BulkRun.objects.get(pk=run_id).counts()
        time.sleep(0.2)
    assert api.get(f"{URL}{run_id}/").json()["counts"]["succeeded"] == 5
    assert len(sales_calls(sandbox)) == 5


# --- the run acts as its token --------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_token_revoked_midway_stops_the_rest(shop, sandbox, settings, monkeypatch):
    settings.BULK_CHUNK_SIZE = 2
    api = client_for(shop)
    payments = [card_payment(shop, sandbox) for _ in range(4)]
    run_id = start(api, payments).json()["run"]["id"]
    sandbox.clear_calls()
    real = processing.process_item
    seen = []

    def revoke_after_the_first_chunk(run, actor, payment_id):
        seen.append(payment_id)
        outcome = real(run, actor, payment_id)
        if len(seen) == 2:
            ShopApiToken.objects.filter(pk=run.api_token_id).update(revoked_at=timezone.now())
        return outcome

    monkeypatch.setattr(processing, "process_item", revoke_after_the_first_chunk)
    process_run(run_id)

    counts = BulkRun.objects.get(pk=run_id).counts()
    assert (counts["done"], counts["skipped"], counts["remaining"]) == (2, 2, 0)
    assert len(sales_calls(sandbox)) == 2
    late = BulkRunItem.objects.filter(run_id=run_id, state=State.SKIPPED)
    assert all(item.message and item.operation_id is None for item in late)
    assert Payment.objects.filter(status=Status.AUTHORIZED).count() == 2


@pytest.mark.django_db
def test_a_token_that_lost_the_bulk_scope_acts_on_nothing(shop, sandbox):
    api = client_for(shop)
    payments = [card_payment(shop, sandbox) for _ in range(2)]
    run_id = start(api, payments).json()["run"]["id"]
    ShopApiToken.objects.filter(pk=token_of(api).pk).update(scopes=[Scope.READ, Scope.CAPTURE])
    sandbox.clear_calls()
    process_run(run_id)
    assert BulkRun.objects.get(pk=run_id).counts()["skipped"] == 2 and not sales_calls(sandbox)


# --- refusals: nothing is created -----------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("scopes", "kind", "missing"), [
    ([Scope.READ, Scope.CAPTURE, Scope.CANCEL], "capture", "bulk"),
    ([Scope.READ, Scope.BULK, Scope.CANCEL], "capture", "capture"),
    ([Scope.READ, Scope.BULK, Scope.CAPTURE], "cancel", "cancel"),
])
def test_missing_scope_is_403(shop, scopes, kind, missing):
    payments = rows(shop, 2)
    response = start(client_for(shop, scopes), payments, kind=kind)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "missing_scope" and f"'{missing}'" in error["message"]
    assert nothing_created()


@pytest.mark.django_db
def test_another_shops_or_unknown_payment_is_400_naming_it(shop, other_shop):
    mine = rows(shop, 2)
    [theirs] = rows(other_shop, 1)
    response = start(client_for(shop), [*mine, theirs, 999999])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    [message] = error["fields"]["payments"]
    assert str(theirs.pk) in message and "999999" in message and str(mine[0].pk) not in message
    assert nothing_created()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "refund", "payments": [1]}, "kind"),
    ({"payments": [1]}, "kind"),
    ({"kind": "capture"}, "payments"),
    ({"kind": "capture", "payments": []}, "payments"),
    ({"kind": "capture", "payments": ["x"]}, "payments"),
    ({"kind": "capture", "payments": [0]}, "payments"),
    ({"kind": "capture", "payments": "1,2"}, "payments"),
    ({"kind": "capture", "payments": list(range(1, 10_002))}, "payments"),
])
def test_invalid_body_is_400_with_fields(shop, body, field):
    rows(shop, 1)
    response = client_for(shop).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input" and field in response.json()["error"]["fields"]
    assert nothing_created()


@pytest.mark.django_db
def test_repeated_ids_are_400(shop):
    [payment] = rows(shop, 1)
    response = start(client_for(shop), [payment, payment])
    assert response.status_code == 400 and "Repeated" in response.json()["error"]["fields"]["payments"][0]
    assert nothing_created()


@pytest.mark.django_db
def test_nothing_to_run_is_409_with_the_reasons(shop):
    captured = rows(shop, 2, status=Status.CAPTURED, captured=True)
    response = start(client_for(shop), captured)
    assert response.status_code == 409
    body = response.json()
    assert body["error"]["code"] == "nothing_to_run"
    assert body["summary"]["included"] == 0 and body["summary"]["skipped"] == [
        {"reason": "Already captured.", "count": 2}]
    assert nothing_created()


# --- idempotency ----------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_idempotency_key_returns_the_same_run(shop, other_shop):
    api = client_for(shop)
    payments = rows(shop, 3)
    first = start(api, payments, HTTP_IDEMPOTENCY_KEY="run-1")
    replay = start(api, payments, HTTP_IDEMPOTENCY_KEY="run-1")
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert start(api, payments[:2], HTTP_IDEMPOTENCY_KEY="run-1").status_code == 422
    # The first answer lost (its record gone): the key still finds the run, never a second one.
    IdempotencyRecord.objects.all().delete()
    retried = start(api, payments, HTTP_IDEMPOTENCY_KEY="run-1")
    assert retried.status_code == 200 and retried.json()["run"]["id"] == first.json()["run"]["id"]
    assert retried.json()["summary"] is None
    assert BulkRun.objects.count() == 1 and BulkRunItem.objects.count() == 3
    # Another shop using the same key gets its own run.
    other = start(client_for(other_shop), rows(other_shop, 1), HTTP_IDEMPOTENCY_KEY="run-1")
    assert other.status_code == 201 and other.json()["run"]["id"] != first.json()["run"]["id"]
    assert BulkRun.objects.count() == 2


# --- reads: visibility, filters, query counts -----------------------------------------------------------------------

@pytest.mark.django_db
def test_a_token_sees_only_runs_of_its_shop_alone(shop, other_shop):
    both = member(shop, Role.OPERATOR)
    member(other_shop, Role.OPERATOR, user=both)
    rows(shop, 2)
    rows(other_shop, 2)
    mixed = make_run(both, "capture", Payment.objects.all())
    only_mine = make_run(both, "capture", Payment.objects.filter(shop=shop))
    only_theirs = make_run(both, "cancel", Payment.objects.filter(shop=other_shop))
    api, other_api = client_for(shop), client_for(other_shop)

    assert [row["id"] for row in api.get(URL).json()["results"]] == [only_mine.pk]
    assert [row["id"] for row in other_api.get(URL).json()["results"]] == [only_theirs.pk]
    for run in (mixed, only_theirs):
        for path in ("", "report/"):
            response = api.get(f"{URL}{run.pk}/{path}")
            assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api.get(f"{URL}{only_mine.pk}/").json()["started_by"] == both.get_username()
    assert api.get(f"{URL}999999/report/").status_code == 404


@pytest.mark.django_db
def test_list_filters_kind_and_status(shop, operator):
    rows(shop, 2)
    capture = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    cancel = make_run(operator, "cancel", Payment.objects.filter(shop=shop))
    BulkRun.objects.filter(pk=cancel.pk).update(status=BulkRun.Status.DONE)
    api = client_for(shop)

    def ids(query):
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("kind=capture") == [capture.pk]
    assert ids("status=done") == [cancel.pk]
    assert ids("status=pending&status=done") == [cancel.pk, capture.pk]
    assert api.get(f"{URL}?kind=refund").status_code == 400


@pytest.mark.django_db
def test_reads_need_the_read_scope(shop, operator):
    rows(shop, 1)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    no_read = client_for(shop, [Scope.BULK, Scope.CAPTURE])
    for path in (URL, f"{URL}{run.pk}/", f"{URL}{run.pk}/report/"):
        assert no_read.get(path).json()["error"]["code"] == "missing_scope"


@pytest.mark.django_db
def test_lists_cost_a_fixed_number_of_queries(shop, operator, django_assert_max_num_queries):
    api = client_for(shop)
    rows(shop, 1)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    with django_assert_max_num_queries(6) as one_run:
        assert len(api.get(URL).json()["results"]) == 1
    with django_assert_max_num_queries(6) as one_item:
        assert len(api.get(f"{URL}{run.pk}/report/").json()["results"]) == 1

    rows(shop, 9)
    for _ in range(9):
        make_run(operator, "capture", Payment.objects.filter(shop=shop))
    big = make_run(operator, "cancel", Payment.objects.filter(shop=shop))
    with django_assert_max_num_queries(len(one_run.captured_queries)):
        assert len(api.get(URL).json()["results"]) == 11
    with django_assert_max_num_queries(len(one_item.captured_queries)):
        assert len(api.get(f"{URL}{big.pk}/report/").json()["results"]) == 10


@pytest.mark.django_db
def test_report_pages_with_a_cursor(shop, operator):
    rows(shop, 5)
    run = make_run(operator, "capture", Payment.objects.filter(shop=shop))
    api = client_for(shop)
    first = api.get(f"{URL}{run.pk}/report/?page_size=3").json()
    assert len(first["results"]) == 3 and first["next"]
    second = api.get(first["next"]).json()
    payments = [row["payment"] for row in first["results"] + second["results"]]
    assert payments == sorted(run.items.values_list("payment_id", flat=True)) and not second["next"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [{}, [], None, 1])
def test_a_kind_of_the_wrong_json_type_is_400_not_a_crash(shop, kind):
    """Found by schemathesis: {"kind": {}} reached a dict lookup with an unhashable key (500)."""
    [payment] = rows(shop, 1)
    response = client_for(shop).post(URL, {"kind": kind, "payments": [payment.pk]}, format="json")
    assert response.status_code == 400 and "kind" in response.json()["error"]["fields"]
    assert nothing_created()


@pytest.mark.django_db
def test_a_registrations_card_payment_is_cancelled_from_its_registration_not_in_a_run(shop, sandbox):
    """Found in review: the payments API refuses it (payments.owned), so must a bulk cancel; capture may go."""
    from tests.registrations.helpers import event, register

    registration = register(event(shop), ["参加費"], sandbox=sandbox)
    client = client_for(shop, [Scope.READ, Scope.BULK, Scope.CANCEL, Scope.CAPTURE])
    refused = start(client, [registration.payment_id], kind="cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "nothing_to_run"
    [skipped] = refused.json()["summary"]["skipped"]
    assert "registration" in skipped["reason"]
    assert nothing_created()
