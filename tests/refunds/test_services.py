"""refunds.services: open → refunded by hand → confirmed, only forward, by people who may refund in the task's
shop, and confirmed by a second person (the one who marked it refunded cannot)."""

from __future__ import annotations

import pytest

from payments.actors import Actor
from payments.errors import InvalidTransition, NotPermitted
from refunds import services
from refunds.models import RefundTaskStatus
from shops.roles import Role
from tests.factories import member

from .helpers import admin_of, fresh, make_task, refunded

pytestmark = pytest.mark.django_db
S = RefundTaskStatus


def unchanged(task, status, refunded_by=None, confirmed_by=None) -> bool:
    now = fresh(task)
    return (now.status, now.refunded_by_id, now.confirmed_by_id) == (
        status, getattr(refunded_by, "pk", None), getattr(confirmed_by, "pk", None))


def test_the_one_who_refunded_cannot_confirm_a_second_person_can(shop, english):
    first, second = admin_of(shop), admin_of(shop)
    task = make_task(shop)
    refunded(task, first, note="11/23 主催者口座から振込")

    with pytest.raises(InvalidTransition, match="second person"):
        services.confirm_refund(task, by=Actor.for_user(first))
    assert unchanged(task, S.REFUNDED, refunded_by=first)

    services.confirm_refund(task, by=Actor.for_user(second))
    task = fresh(task)
    assert (task.status, task.refunded_by, task.confirmed_by) == (S.CONFIRMED, first, second)
    assert task.refunded_at <= task.confirmed_at
    assert task.refund_note == "11/23 主催者口座から振込"


def test_a_user_without_the_refund_permission_is_refused_at_each_step(shop):
    task = make_task(shop)
    for role in (Role.OPERATOR, Role.STAFF, Role.VIEWER):
        with pytest.raises(NotPermitted):
            services.mark_refunded(task, by=Actor.for_user(member(shop, role)))
    assert unchanged(task, S.OPEN)

    first = admin_of(shop)
    refunded(task, first)
    with pytest.raises(NotPermitted):
        services.confirm_refund(task, by=Actor.for_user(member(shop, Role.OPERATOR)))
    assert unchanged(task, S.REFUNDED, refunded_by=first)


def test_another_shops_admin_is_refused(shop, other_shop):
    task = make_task(shop)
    stranger = admin_of(other_shop)
    with pytest.raises(NotPermitted):
        services.mark_refunded(task, by=Actor.for_user(stranger))
    first = admin_of(shop)
    refunded(task, first)
    with pytest.raises(NotPermitted):
        services.confirm_refund(task, by=Actor.for_user(stranger))
    assert unchanged(task, S.REFUNDED, refunded_by=first)


def test_statuses_move_only_forward(shop, english):
    first, second, third = admin_of(shop), admin_of(shop), admin_of(shop)
    task = make_task(shop)

    with pytest.raises(InvalidTransition, match="Only a refund marked as refunded by hand can be confirmed"):
        services.confirm_refund(task, by=Actor.for_user(second))  # still open
    assert unchanged(task, S.OPEN)

    refunded(task, first)
    with pytest.raises(InvalidTransition, match="already marked as refunded"):
        refunded(task, second)  # marking twice
    assert unchanged(task, S.REFUNDED, refunded_by=first)

    services.confirm_refund(task, by=Actor.for_user(second))
    with pytest.raises(InvalidTransition, match="already confirmed"):
        services.confirm_refund(task, by=Actor.for_user(third))
    with pytest.raises(InvalidTransition, match="already confirmed"):
        refunded(task, third)
    assert unchanged(task, S.CONFIRMED, refunded_by=first, confirmed_by=second)


def test_a_stale_copy_cannot_step_back(shop, english):
    """The step reads the task again under its lock: a copy loaded before the mark is no way around the rules."""
    first, second = admin_of(shop), admin_of(shop)
    task = make_task(shop)
    stale = fresh(task)
    refunded(task, first)
    with pytest.raises(InvalidTransition, match="already marked"):
        refunded(stale, second)
    assert unchanged(task, S.REFUNDED, refunded_by=first)


def test_not_a_person_can_neither_mark_nor_confirm(shop, english):
    task = make_task(shop)
    with pytest.raises(InvalidTransition, match="person"):
        services.mark_refunded(task, by=Actor.system("batch"))
    refunded(task, admin_of(shop))
    with pytest.raises(InvalidTransition, match="second person"):
        services.confirm_refund(task, by=Actor.system("batch"))
    assert fresh(task).status == S.REFUNDED


def test_the_note_is_optional_trimmed_and_bounded(shop, english):
    first = admin_of(shop)
    task = make_task(shop)
    with pytest.raises(services.InvalidNote, match="keep it to 500"):
        refunded(task, first, note="x" * 501)
    assert unchanged(task, S.OPEN) and fresh(task).refund_note == ""
    refunded(task, first, note="  transferred 11/23 from the organizer's account \n")
    assert fresh(task).refund_note == "transferred 11/23 from the organizer's account"

    other = make_task(shop)
    refunded(other, first)
    assert fresh(other).refund_note == ""
