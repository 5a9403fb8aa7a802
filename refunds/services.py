"""Open, mark refunded and confirm manual refund tasks (the one who refunded may not confirm)."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.errors import InvalidTransition
from refunds.models import RefundTask, RefundTaskStatus
from shops.roles import Perm


def open_refund_task(payment, *, amount: int, reason: str, actor_label: str) -> RefundTask:
    """Called inside the transaction that records the non-linked cancel, so neither exists alone."""
    return RefundTask.objects.create(
        shop_id=payment.shop_id, payment=payment, amount=amount, payee=payment.payer_name or "—",
        method=payment.method, reason=reason, created_by_label=actor_label)


@contextmanager
def _step(task: RefundTask, by, source: str, refused: str):
    """The task locked for one step of its life, if `by` may refund and it is still in `source`; saved after."""
    with transaction.atomic():
        locked = RefundTask.objects.select_for_update().get(pk=task.pk)
        by.require(locked.shop_id, Perm.REFUND)
        if locked.status != source:
            raise InvalidTransition(refused)
        yield locked
        locked.save()


def mark_refunded(task: RefundTask, *, by) -> RefundTask:
    with _step(task, by, RefundTaskStatus.OPEN, _("This refund was already marked as refunded.")) as locked:
        locked.status = RefundTaskStatus.REFUNDED
        locked.refunded_by_id = by.user_id
        locked.refunded_at = timezone.now()
    return locked


def confirm_refund(task: RefundTask, *, by) -> RefundTask:
    with _step(task, by, RefundTaskStatus.REFUNDED,
               _("Only a refund marked as refunded by hand can be confirmed.")) as locked:
        if by.user_id is None or by.user_id == locked.refunded_by_id:
            raise InvalidTransition(_("A second person must confirm the refund: the one who refunded "
                                      "cannot confirm it."))
        locked.status = RefundTaskStatus.CONFIRMED
        locked.confirmed_by_id = by.user_id
        locked.confirmed_at = timezone.now()
    return locked
