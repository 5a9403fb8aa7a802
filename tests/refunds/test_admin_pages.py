"""The refund task's page: its facts, where it came from, and the two steps behind a confirm page; who sees
which button, and that the views refuse what the services refuse (second person, permission, shop)."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from orders.models import Order
from payments.models import Method
from refunds.models import RefundTask, RefundTaskStatus
from shops.roles import Role
from tests.factories import member

from .helpers import admin_of, fresh, make_task, refunded

pytestmark = pytest.mark.django_db
S = RefundTaskStatus


def detail_url(task) -> str:
    return reverse("admin:refunds_refundtask_change", args=[task.pk])


def step_url(task, step: str) -> str:
    return reverse("admin:refunds_refundtask_step", args=[task.pk, step])


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def button(text: str, step: str) -> str | None:
    """The step's button tag on the task's page, or None when it is not there."""
    found = re.search(rf'<button[^>]*id="refund-step-{step}"[^>]*>', text)
    return found.group(0) if found else None


def test_the_page_shows_the_tasks_facts_and_where_it_came_from(english_client, shop):
    task = make_task(shop, amount=12345, payee="佐藤 一郎", method=Method.RECRUIT, reason="注文キャンセル: 期限後")
    order = Order.objects.create(shop=shop, number="ORD-77", customer_name="佐藤 一郎", total=12345,
                                 payment=task.payment)
    english_client.force_login(admin_of(shop))

    text = page(english_client, detail_url(task))

    for fact in ("¥12,345", "佐藤 一郎", "Recruit easy pay", "注文キャンセル: 期限後", "To refund", "system: test"):
        assert fact in text, fact
    assert f'href="{reverse("admin:payments_payment_change", args=[task.payment_id])}"' in text
    assert f'href="{reverse("admin:orders_order_change", args=[order.pk])}"' in text and "Order ORD-77" in text


def test_mark_then_confirm_by_a_second_person_through_the_pages(english_client, shop):
    first, second = admin_of(shop), admin_of(shop)
    task = make_task(shop)

    english_client.force_login(first)
    text = page(english_client, detail_url(task))
    assert "disabled" not in button(text, "mark_refunded") and button(text, "confirm") is None
    # The button POSTs to the confirm page, which says what will happen and asks for the optional note.
    confirm_page = html.unescape(english_client.post(step_url(task, "mark_refunded")).content.decode())
    assert "¥3,000 was given back by hand to 山田 花子 (paid by Konbini)" in confirm_page
    assert "you cannot confirm it yourself" in confirm_page and 'name="note"' in confirm_page
    assert fresh(task).status == S.OPEN  # nothing happens before the confirmation

    done = english_client.post(step_url(task, "mark_refunded"),
                               {"confirmed": "1", "note": "transferred 11/23 from the organizer's account"},
                               follow=True)
    assert "A second person must now confirm it" in messages_of(done)
    task = fresh(task)
    assert (task.status, task.refunded_by, task.refund_note) == (
        S.REFUNDED, first, "transferred 11/23 from the organizer's account")

    # The one who refunded sees the confirm button disabled, with the reason.
    text = page(english_client, detail_url(task))
    assert "disabled" in button(text, "confirm")
    assert "You marked it refunded: a second person must confirm it." in text
    assert "transferred 11/23 from the organizer's account" in text

    english_client.force_login(second)
    text = page(english_client, detail_url(task))
    assert "disabled" not in button(text, "confirm") and button(text, "mark_refunded") is None
    confirm_page = page(english_client, step_url(task, "confirm"))
    assert f"as {first.username} recorded" in confirm_page and "leaves the needs-attention lists" in confirm_page
    done = english_client.post(step_url(task, "confirm"), {"confirmed": "1"}, follow=True)
    assert "Refund confirmed" in messages_of(done)
    task = fresh(task)
    assert (task.status, task.confirmed_by) == (S.CONFIRMED, second)
    text = page(english_client, detail_url(task))
    assert button(text, "confirm") is None and "nothing left to do" in text


def test_the_one_who_refunded_is_refused_by_the_confirm_view_too(english_client, shop):
    first = admin_of(shop)
    task = refunded(make_task(shop), first)
    english_client.force_login(first)

    shown = page(english_client, step_url(task, "confirm"))
    assert 'id="step-refused"' in shown and 'id="step-confirm"' not in shown
    assert "You marked it refunded: a second person must confirm it." in shown

    done = english_client.post(step_url(task, "confirm"), {"confirmed": "1"}, follow=True)
    assert "A second person must confirm the refund" in messages_of(done)
    task = fresh(task)
    assert (task.status, task.confirmed_by, task.confirmed_at) == (S.REFUNDED, None, None)


def test_confirming_an_open_task_or_marking_twice_is_refused(english_client, shop):
    first = admin_of(shop)
    task = make_task(shop)
    english_client.force_login(first)
    done = english_client.post(step_url(task, "confirm"), {"confirmed": "1"}, follow=True)
    assert "Only a refund marked as refunded by hand can be confirmed" in messages_of(done)
    assert fresh(task).status == S.OPEN

    refunded(task, first, note="first note")
    done = english_client.post(step_url(task, "mark_refunded"), {"confirmed": "1", "note": "again"}, follow=True)
    assert "already marked as refunded" in messages_of(done)
    assert (fresh(task).status, fresh(task).refund_note) == (S.REFUNDED, "first note")


def test_a_too_long_note_is_shown_again_and_nothing_changes(english_client, shop):
    task = make_task(shop)
    english_client.force_login(admin_of(shop))
    response = english_client.post(step_url(task, "mark_refunded"), {"confirmed": "1", "note": "y" * 600})
    text = html.unescape(response.content.decode())
    assert response.status_code == 200 and 'id="step-error"' in text and "keep it to 500" in text
    assert "y" * 600 in text  # kept for shortening
    assert fresh(task).status == S.OPEN


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.STAFF, Role.VIEWER])
def test_without_the_refund_permission_no_buttons_and_403(english_client, shop, role):
    task = make_task(shop)
    english_client.force_login(member(shop, role))
    text = page(english_client, detail_url(task))
    assert button(text, "mark_refunded") is None and 'id="refund-steps-not-permitted"' in text
    for step in ("mark_refunded", "confirm"):
        assert english_client.get(step_url(task, step)).status_code == 403
        assert english_client.post(step_url(task, step), {"confirmed": "1"}).status_code == 403
    assert fresh(task).status == S.OPEN

    refunded(task, admin_of(shop))
    text = page(english_client, detail_url(task))
    assert button(text, "confirm") is None
    assert english_client.post(step_url(task, "confirm"), {"confirmed": "1"}).status_code == 403
    assert fresh(task).status == S.REFUNDED


def test_another_shops_task_is_404(english_client, shop, other_shop):
    task = make_task(other_shop)
    english_client.force_login(admin_of(shop))
    assert english_client.get(detail_url(task)).status_code == 404
    for step in ("mark_refunded", "confirm"):
        assert english_client.post(step_url(task, step), {"confirmed": "1"}).status_code == 404
    assert fresh(task).status == S.OPEN


def test_unknown_step_is_404(english_client, shop):
    task = make_task(shop)
    english_client.force_login(admin_of(shop))
    assert english_client.post(step_url(task, "undo"), {"confirmed": "1"}).status_code == 404


def test_bulk_actions_keep_the_second_person_rule_and_are_hidden_without_permission(english_client, shop):
    first, second = admin_of(shop), admin_of(shop)
    tasks = [make_task(shop), make_task(shop)]
    url = reverse("admin:refunds_refundtask_changelist")
    selected = [t.pk for t in tasks]
    english_client.force_login(first)
    english_client.post(url, {"action": "mark_refunded", "_selected_action": selected})
    english_client.post(url, {"action": "confirm_refund", "_selected_action": selected})
    assert {fresh(t).status for t in tasks} == {S.REFUNDED}
    english_client.force_login(second)
    english_client.post(url, {"action": "confirm_refund", "_selected_action": selected})
    assert {(fresh(t).status, fresh(t).confirmed_by) for t in tasks} == {(S.CONFIRMED, second)}

    english_client.force_login(member(shop, Role.OPERATOR))
    form = english_client.get(url).context["action_form"]
    assert form is None  # no refund action offered (and no other action exists)
    assert RefundTask.objects.count() == 2
