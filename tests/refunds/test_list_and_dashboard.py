"""The refund-task list (needs-attention filter, method label, age, constant queries) and the dashboard's two
figures, which count exactly what the list their link opens shows, for the user's shops only."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from payments.actors import Actor
from payments.dashboard import dashboard_for
from payments.models import Method
from refunds import services
from refunds.models import RefundTaskStatus

from .helpers import admin_of, make_task, refunded

pytestmark = pytest.mark.django_db
S = RefundTaskStatus
LIST = "admin:refunds_refundtask_changelist"
TO_DO, TO_CONFIRM = "refunds_to_refund", "refunds_to_confirm"


def listed(client, **params) -> set[int]:
    response = client.get(reverse(LIST), params)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def figures(user) -> dict[str, tuple[int, str]]:
    return {f.key: (f.count, f.url) for f in dashboard_for(user).business_attention}


def data_count(text: str, dom_id: str) -> int:
    found = re.search(rf'id="{dom_id}" href="([^"]*)" data-count="(\d+)"', text)
    assert found, dom_id
    return int(found.group(2))


def three_states(shop, first, second):
    """One task in each status: open, refunded (by `first`), confirmed (by `second`)."""
    open_ = make_task(shop)
    waiting = refunded(make_task(shop), first)
    done = refunded(make_task(shop), first)
    services.confirm_refund(done, by=Actor.for_user(second))
    return open_, waiting, done


def test_default_list_shows_everything_and_the_filter_the_pending_ones(client, shop):
    first, second = admin_of(shop), admin_of(shop)
    open_, waiting, done = three_states(shop, first, second)
    client.force_login(first)
    assert listed(client) == {open_.pk, waiting.pk, done.pk}
    assert listed(client, attention="pending") == {open_.pk, waiting.pk}
    assert listed(client, attention="to_refund") == {open_.pk}
    assert listed(client, attention="to_confirm") == {waiting.pk}
    assert listed(client, attention="nonsense") == {open_.pk, waiting.pk, done.pk}  # ignored, not a 500


def test_dashboard_counts_agree_with_the_lists_their_links_open(client, shop, other_shop):
    first, second = admin_of(shop), admin_of(shop)
    open_, waiting, _done = three_states(shop, first, second)
    make_task(shop)
    three_states(other_shop, admin_of(other_shop), admin_of(other_shop))  # never counted for `first`

    found = figures(first)
    assert found[TO_DO][0] == 2 and found[TO_CONFIRM][0] == 1
    client.force_login(first)
    for key in (TO_DO, TO_CONFIRM):
        count, url = found[key]
        response = client.get(url)
        assert response.status_code == 200 and len(response.context["cl"].result_list) == count

    text = html.unescape(client.get(reverse("admin:index")).content.decode())
    assert data_count(text, f"dashboard-attention-{TO_DO}") == 2
    assert data_count(text, f"dashboard-attention-{TO_CONFIRM}") == 1
    assert "attention=to_refund" in text and "attention=to_confirm" in text

    # Confirmed: it leaves both figures and the filtered list.
    services.confirm_refund(waiting, by=Actor.for_user(second))
    found = figures(first)
    assert found[TO_DO][0] == 2 and found[TO_CONFIRM][0] == 0
    assert waiting.pk not in listed(client, attention="pending")
    refunded(open_, first)
    assert (figures(first)[TO_DO][0], figures(first)[TO_CONFIRM][0]) == (1, 1)


def test_dashboard_labels_in_english(english_client, shop):
    make_task(shop)
    english_client.force_login(admin_of(shop))
    text = html.unescape(english_client.get(reverse("admin:index")).content.decode())
    assert "Manual refunds to do" in text and "Manual refunds to confirm" in text


def test_list_shows_the_method_label_and_the_age(english_client, shop):
    with time_machine.travel(timezone.now() - timedelta(days=3, hours=1)):
        old = make_task(shop, method=Method.RECRUIT, payee="古い 依頼")
    make_task(shop, method=Method.KONBINI, payee="新しい 依頼")
    english_client.force_login(admin_of(shop))
    text = html.unescape(english_client.get(reverse(LIST)).content.decode())
    assert "Recruit easy pay" in text and "Konbini" in text
    assert re.search(r'<td class="field-age">3(\xa0|\s)days</td>', text), "the open task's age"
    assert 'value="to_refund"' in text or "attention=to_refund" in text  # the filter is offered
    assert old.payee in text


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(LIST))
        assert response.status_code == 200
    return len(queries)


def test_list_query_count_is_the_same_for_1_and_20_tasks(client, shop, other_shop):
    first, *others = [admin_of(shop) for _ in range(3)]
    refunded(make_task(shop), first)
    client.force_login(first)
    one = _list_queries(client)
    for n in range(19):  # every status, other people, other payments and methods
        task = make_task(shop, method=[Method.KONBINI, Method.RECRUIT][n % 2])
        if n % 3:
            refunded(task, others[n % 2])
        if n % 3 == 2:
            services.confirm_refund(task, by=Actor.for_user(first))
    three_states(other_shop, admin_of(other_shop), admin_of(other_shop))
    assert len(client.get(reverse(LIST)).context["cl"].result_list) == 20
    assert _list_queries(client) == one


def test_dashboard_query_count_does_not_grow_with_the_tasks(client, shop):
    first, second = admin_of(shop), admin_of(shop)
    make_task(shop)
    client.force_login(first)

    def index() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("admin:index")).status_code == 200
        return len(queries)

    few = index()
    for _ in range(20):
        refunded(make_task(shop), second)
    assert index() == few
