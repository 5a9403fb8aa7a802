"""Builders for the refund-task tests: a task on a payment row made cheaply (no gateway), and its people."""

from __future__ import annotations

import itertools

from payments.actors import Actor
from payments.models import Method, Payment
from refunds import services
from refunds.models import RefundTask
from shops.roles import Role
from tests.factories import member

_numbers = itertools.count(1)


def make_task(shop, *, amount: int = 3000, payee: str = "山田 花子", method: str = Method.KONBINI,
              reason: str = "予約キャンセル: お客様がコンビニで支払い済み") -> RefundTask:
    n = next(_numbers)
    payment = Payment.objects.create(shop=shop, method=method, amount=amount, gateway_order_id=f"RF-{n:06d}",
                                     reference=f"R-{n}", payer_name=payee)
    return services.open_refund_task(payment, amount=amount, reason=reason, actor_label="system: test")


def admin_of(shop):
    """A shop admin: the role with Perm.REFUND."""
    return member(shop, Role.ADMIN)


def refunded(task: RefundTask, by_user, note: str = "") -> RefundTask:
    return services.mark_refunded(task, by=Actor.for_user(by_user), note=note)


def fresh(task: RefundTask) -> RefundTask:
    return RefundTask.objects.get(pk=task.pk)
