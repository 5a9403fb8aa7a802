"""Open, mark refunded and confirm manual refund tasks (the one who refunded may not confirm)."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.errors import InvalidTransition, PaymentError
from refunds.models import RefundTask, RefundTaskStatus
from refunds.steps import CONFIRM, MARK_REFUNDED, verdict
from shops.roles import Perm

NOTE_MAX_LENGTH = 500


class InvalidNote(PaymentError):
    code = "invalid_note"
    http_status = 400


class SecondPersonRequired(InvalidTransition):
    """The one who marked the task refunded tried to confirm it."""

    code = "second_person_required"


def open_refund_task(payment, *, amount: int, reason: str, actor_label: str) -> RefundTask:
    """Called inside the transaction that records the non-linked cancel, so neither exists alone."""
    return RefundTask.objects.create(
        shop_id=payment.shop_id, payment=payment, amount=amount, payee=payment.payer_name or "—",
        method=payment.method, reason=reason, created_by_label=actor_label)


@contextmanager
def _step(task: RefundTask, by, step: str):
    """The task locked for one step of its life, if `by` may refund in its shop and the step is allowed now
    (steps.verdict); saved after. A refusal changes nothing."""
    with transaction.atomic():
        locked = RefundTask.objects.select_for_update().get(pk=task.pk)
        by.require(locked.shop_id, Perm.REFUND)
        found = verdict(step, locked, by.user_id, by.token_id)
        if not found.allowed:
            raise (SecondPersonRequired if found.own_refund else InvalidTransition)(found.reason)
        yield locked
        locked.save()


def clean_note(note) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidNote(_("The note is %(length)s characters long; keep it to %(max)s.")
                          % {"length": len(note), "max": NOTE_MAX_LENGTH})
    return note


def mark_refunded(task: RefundTask, *, by, note: str = "") -> RefundTask:
    """The money was given back by hand (outside any gateway); `note` says how, for the one who confirms."""
    note = clean_note(note)  # before anything is locked or written
    with _step(task, by, MARK_REFUNDED) as locked:
        locked.status = RefundTaskStatus.REFUNDED
        locked.refunded_by_id = by.user_id
        locked.refunded_by_token_id = by.token_id
        locked.refunded_at = timezone.now()
        locked.refund_note = note
    return locked


def confirm_refund(task: RefundTask, *, by) -> RefundTask:
    with _step(task, by, CONFIRM) as locked:
        locked.status = RefundTaskStatus.CONFIRMED
        locked.confirmed_by_id = by.user_id
        locked.confirmed_by_token_id = by.token_id
        locked.confirmed_at = timezone.now()
    return locked
