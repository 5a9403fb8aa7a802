"""Manual refund tasks: opened by a non-linked cancel; refunded and confirmed by two different people."""

import pytest
from django.urls import reverse
from django.utils import translation

from payments.actors import Actor
from payments.errors import InvalidTransition, NotPermitted
from payments.models import Method
from refunds import services
from refunds.models import RefundTask, RefundTaskStatus
from shops.roles import Role
from tests.factories import ShopFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(shop):
    from payments.models import Payment

    payment = Payment.objects.create(shop=shop, method=Method.RECRUIT, amount=3000, gateway_order_id="x-1",
                                     payer_name="山田 花子")
    return services.open_refund_task(payment, amount=3000, reason="test", actor_label="system: test")


def test_second_person_confirms(shop, task):
    first, second = member(shop, Role.ADMIN), member(shop, Role.ADMIN)
    services.mark_refunded(task, by=Actor.for_user(first))
    with pytest.raises(InvalidTransition, match="別の担当者"):
        services.confirm_refund(task, by=Actor.for_user(first))
    with translation.override("en"), pytest.raises(InvalidTransition, match="second person"):
        services.confirm_refund(task, by=Actor.for_user(first))
    assert RefundTask.objects.get(pk=task.pk).status == RefundTaskStatus.REFUNDED
    services.confirm_refund(task, by=Actor.for_user(second))
    task.refresh_from_db()
    assert (task.status, task.refunded_by, task.confirmed_by) == (RefundTaskStatus.CONFIRMED, first, second)


def test_permission_and_other_shop(shop, task, client):
    with pytest.raises(NotPermitted):
        services.mark_refunded(task, by=Actor.for_user(member(shop, Role.OPERATOR)))  # no refund permission
    client.force_login(member(ShopFactory(), Role.ADMIN))
    assert client.get(reverse("admin:refunds_refundtask_change", args=[task.pk])).status_code == 404


def test_admin_actions_enforce_second_person(shop, task, client):
    user = member(shop, Role.ADMIN)
    client.force_login(user)
    url = reverse("admin:refunds_refundtask_changelist")
    client.post(url, {"action": "mark_refunded", "_selected_action": [task.pk]})
    client.post(url, {"action": "confirm_refund", "_selected_action": [task.pk]})
    task.refresh_from_db()
    assert task.status == RefundTaskStatus.REFUNDED  # the same person could not confirm
