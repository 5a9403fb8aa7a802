"""Refund tasks API (issue #10): the list with the admin's filters, a task, and its two steps with the
second-person rule holding for tokens (the token that marked it refunded cannot confirm; another token or a
staff user can)."""

from __future__ import annotations

import pytest

from payments.actors import Actor
from payments.models import Method
from refunds import services
from refunds.admin_steps import step_effect
from refunds.models import RefundTask, RefundTaskStatus
from refunds.steps import CONFIRM
from shops.api_scopes import Scope
from shops.models import ShopApiToken
from tests.api.conftest import api_client_for, english
from tests.refunds.helpers import admin_of, fresh, make_task, refunded

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_api")]
S = RefundTaskStatus


def token_of(client) -> ShopApiToken:
    return ShopApiToken.objects.lookup(client._credentials["HTTP_AUTHORIZATION"].split()[1])


def state(task) -> tuple:
    now = fresh(task)
    return (now.status, now.refunded_by_id, now.refunded_by_token_id, now.refund_note, now.confirmed_by_id,
            now.confirmed_by_token_id)


OPEN = (S.OPEN, None, None, "", None, None)


def url(task, step: str = "") -> str:
    return f"/api/v1/refund-tasks/{task.pk}/{step + '/' if step else ''}"


# --- reads -----------------------------------------------------------------------------------------------------

def test_list_shows_only_the_shops_tasks_newest_first(api, shop, other_shop):
    older, newer = make_task(shop, amount=1000), make_task(shop, amount=2000)
    make_task(other_shop)
    response = api.get("/api/v1/refund-tasks/")
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["results"]] == [newer.pk, older.pk]
    row = body["results"][0]
    assert row["amount"] == 2000 and row["payee"] == "山田 花子" and row["status"] == S.OPEN
    assert row["method"] == Method.KONBINI and row["method_label"] and row["payment"] == newer.payment_id
    assert set(body) == {"next", "previous", "results"}


def test_filters_mirror_the_admin_list(api, shop):
    first, second = admin_of(shop), admin_of(shop)
    to_refund = make_task(shop, payee="佐藤 一郎", method=Method.CARD)
    to_confirm = refunded(make_task(shop, payee="鈴木 次郎"), first)
    confirmed = make_task(shop)
    refunded(confirmed, first)
    services.confirm_refund(confirmed, by=Actor.for_user(second))

    def ids(query: str) -> set[int]:
        response = api.get(f"/api/v1/refund-tasks/?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("attention=pending") == {to_refund.pk, to_confirm.pk}
    assert ids("attention=to_refund") == {to_refund.pk}
    assert ids("attention=to_confirm") == {to_confirm.pk}
    assert ids("status=confirmed") == {confirmed.pk}
    assert ids("status=open&status=refunded") == {to_refund.pk, to_confirm.pk}
    assert ids("method=card") == {to_refund.pk}
    assert ids("q=鈴木") == {to_confirm.pk}
    assert ids(f"q={to_refund.payment.reference}") == {to_refund.pk}
    assert ids(f"q={to_refund.payment.gateway_order_id.lower()}") == {to_refund.pk}
    invalid = api.get("/api/v1/refund-tasks/?attention=whenever")
    assert invalid.status_code == 400 and "attention" in invalid.json()["error"]["fields"]


def test_list_costs_a_fixed_number_of_queries(api, shop, django_assert_max_num_queries):
    make_task(shop)
    with django_assert_max_num_queries(6) as one:
        assert len(api.get("/api/v1/refund-tasks/").json()["results"]) == 1
    for _ in range(9):
        refunded(make_task(shop), admin_of(shop))
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(api.get("/api/v1/refund-tasks/").json()["results"]) == 10


def test_detail_says_who_did_each_step(api, shop):
    first = admin_of(shop)
    task = refunded(make_task(shop), first, note="11/23 振込")
    body = api.get(url(task)).json()
    assert body["refunded_by"] == first.get_username() and body["refund_note"] == "11/23 振込"
    assert body["confirmed_by"] == "" and body["confirmed_at"] is None
    assert body["payment_reference"] == task.payment.reference and body["reason"] and body["created_by_label"]


def test_another_shops_task_and_an_unknown_id_are_404(api, other_api, shop):
    task = make_task(shop)
    assert other_api.get(url(task)).status_code == 404
    assert api.get("/api/v1/refund-tasks/999999/").status_code == 404
    for step in ("mark-refunded", "confirm"):
        response = other_api.post(url(task, step), {}, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert state(task) == OPEN


# --- the steps ---------------------------------------------------------------------------------------------------

def test_a_refund_a_token_marked_is_confirmed_by_a_person_not_another_token(api, shop):
    task = make_task(shop)
    marked = api.post(url(task, "mark-refunded"), {"note": "  11/23 主催者口座から振込 "}, format="json")
    assert marked.status_code == 200, marked.json()
    body = marked.json()
    assert body["status"] == S.REFUNDED and body["refunded_by"] == "API: test"
    assert body["refund_note"] == "11/23 主催者口座から振込" and body["refunded_at"]
    token = token_of(api)
    assert state(task) == (S.REFUNDED, None, token.pk, "11/23 主催者口座から振込", None, None)

    own = api.post(url(task, "confirm"), format="json")
    assert own.status_code == 409
    assert own.json()["error"]["code"] == "second_person_required"
    assert "second person" in own.json()["error"]["message"]
    assert fresh(task).status == S.REFUNDED and fresh(task).confirmed_by_token_id is None

    # Two tokens may be one integration: another token is no second person either.
    second = english(api_client_for(shop, scopes=[Scope.READ, Scope.REFUND]))
    refused = second.post(url(task, "confirm"), format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "second_person_required"
    assert "confirmed by a person" in refused.json()["error"]["message"]
    assert fresh(task).status == S.REFUNDED and fresh(task).confirmed_by_token_id is None

    services.confirm_refund(fresh(task), by=Actor.for_user(admin_of(shop)))
    assert fresh(task).status == S.CONFIRMED


def test_a_token_and_a_staff_user_are_different_people(api, shop, english):
    # A user marks, the token confirms.
    user = admin_of(shop)
    task = refunded(make_task(shop), user)
    assert api.post(url(task, "confirm"), format="json").status_code == 200
    assert (fresh(task).confirmed_by_id, fresh(task).confirmed_by_token_id) == (None, token_of(api).pk)

    # The token marks, a user confirms (the admin's service call), and the admin names the token.
    other = make_task(shop)
    assert api.post(url(other, "mark-refunded"), format="json").status_code == 200
    assert "API: test" in step_effect(CONFIRM, fresh(other))
    services.confirm_refund(other, by=Actor.for_user(user))
    assert state(other)[0] == S.CONFIRMED and fresh(other).confirmed_by == user


def test_the_admin_rule_is_unchanged_for_users(shop, english):
    """Users still cannot confirm their own refund; a system actor is still nobody."""
    user = admin_of(shop)
    task = refunded(make_task(shop), user)
    with pytest.raises(services.SecondPersonRequired, match="second person"):
        services.confirm_refund(task, by=Actor.for_user(user))
    with pytest.raises(services.InvalidTransition, match="second person") as refused:
        services.confirm_refund(task, by=Actor.system("batch"))
    assert not isinstance(refused.value, services.SecondPersonRequired)
    assert fresh(task).status == S.REFUNDED


def test_wrong_state_is_409_and_changes_nothing(api, shop):
    task = make_task(shop)
    early = api.post(url(task, "confirm"), format="json")
    assert early.status_code == 409 and early.json()["error"]["code"] == "invalid_transition"
    assert "Only a refund marked as refunded" in early.json()["error"]["message"]
    assert state(task) == OPEN

    assert api.post(url(task, "mark-refunded"), format="json").status_code == 200
    before = state(task)
    second = english(api_client_for(shop, scopes=[Scope.READ, Scope.REFUND]))
    twice = second.post(url(task, "mark-refunded"), {"note": "again"}, format="json")
    assert twice.status_code == 409 and "already marked" in twice.json()["error"]["message"]
    assert state(task) == before


def test_missing_scope_is_403_before_anything(shop):
    task = make_task(shop)
    read_only = api_client_for(shop, scopes=[Scope.READ, Scope.CANCEL])
    for step in ("mark-refunded", "confirm"):
        response = read_only.post(url(task, step), {"note": "x"}, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "missing_scope"
    assert read_only.get(url(task)).status_code == 200
    no_read = api_client_for(shop, scopes=[Scope.REFUND])
    assert no_read.get("/api/v1/refund-tasks/").json()["error"]["code"] == "missing_scope"
    # 403 even for an unknown id: the scope is checked before any lookup.
    assert read_only.post("/api/v1/refund-tasks/999999/confirm/", format="json").status_code == 403
    assert state(task) == OPEN


def test_invalid_note_is_400_with_fields(api, shop):
    task = make_task(shop)
    response = api.post(url(task, "mark-refunded"), {"note": "x" * 501}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and "note" in error["fields"]
    wrong_type = api.post(url(task, "mark-refunded"), {"note": ["a"]}, format="json")
    assert wrong_type.status_code == 400 and "note" in wrong_type.json()["error"]["fields"]
    assert state(task) == OPEN


def test_idempotency_key_replays_the_step(api, shop):
    task = make_task(shop)
    headers = {"HTTP_IDEMPOTENCY_KEY": "mark-1"}
    first = api.post(url(task, "mark-refunded"), {"note": "n"}, format="json", **headers)
    second = api.post(url(task, "mark-refunded"), {"note": "n"}, format="json", **headers)
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true" and second.json() == first.json()
    other_body = api.post(url(task, "mark-refunded"), {"note": "other"}, format="json", **headers)
    assert other_body.status_code == 422
    assert RefundTask.objects.get(pk=task.pk).refund_note == "n"
