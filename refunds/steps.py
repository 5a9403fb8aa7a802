"""The two steps of a manual refund task and when each is allowed: one rule set, which the services enforce
and the task's page shows (a refused step stays visible, disabled, with its reason).

Statuses move only forward: open → refunded by hand → confirmed. The one who marked the task refunded may
not confirm it: a second person checks that the money really went back.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from refunds.models import RefundTask, RefundTaskStatus

MARK_REFUNDED, CONFIRM = "mark_refunded", "confirm"
STEP_LABELS = {
    MARK_REFUNDED: gettext_lazy("Mark as refunded by hand"),
    CONFIRM: gettext_lazy("Confirm the refund"),
}
# The status each step starts from: its button is offered only there.
SOURCE = {MARK_REFUNDED: RefundTaskStatus.OPEN, CONFIRM: RefundTaskStatus.REFUNDED}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""
    own_refund: bool = False  # refused only because this person marked it refunded


def verdict(step: str, task: RefundTask, user_id: int | None, token_id: int | None = None) -> Verdict:
    """May the person `user_id` (a staff user) or the API token `token_id` take `step` on `task` as it is now?
    Permission aside. Neither (None, None): not a person. A token and a user are always different people."""
    if task.status == RefundTaskStatus.CONFIRMED:
        return Verdict(False, _("This refund is already confirmed."))
    is_person = user_id is not None or token_id is not None
    if step == MARK_REFUNDED:
        if task.status != RefundTaskStatus.OPEN:
            return Verdict(False, _("This refund was already marked as refunded."))
        if not is_person:
            return Verdict(False, _("A refund by hand is marked by a person signed in to the admin."))
        return Verdict(True)
    if step == CONFIRM:
        if task.status != RefundTaskStatus.REFUNDED:
            return Verdict(False, _("Only a refund marked as refunded by hand can be confirmed."))
        # Compared only when set: a task marked by a token has no refunded_by, and None is nobody.
        own = ((user_id is not None and user_id == task.refunded_by_id)
               or (token_id is not None and token_id == task.refunded_by_token_id))
        if not is_person or own:
            return Verdict(False, _("A second person must confirm the refund: the one who refunded cannot "
                                    "confirm it."), own_refund=own)
        # Two tokens may well be one integration: a refund a token marked is confirmed by a person.
        if token_id is not None and task.refunded_by_token_id is not None:
            return Verdict(False, _("A refund marked through the API is confirmed by a person in the admin, "
                                    "not by another API token."), own_refund=True)
        return Verdict(True)
    return Verdict(False, _("Unknown step."))


def offered_steps(task: RefundTask, user_id: int | None) -> list[dict]:
    """The buttons of the task's page for a person who may refund in its shop: the step its status allows,
    enabled or disabled with the reason (the one who refunded reads why they cannot confirm)."""
    menu = []
    for step, source in SOURCE.items():
        if task.status != source:
            continue
        found = verdict(step, task, user_id)
        menu.append({"step": step, "label": str(STEP_LABELS[step]), "allowed": found.allowed,
                     "reason": reason_shown(found)})
    return menu


def reason_shown(found: Verdict) -> str:
    """The refusal as the page tells the person in front of it."""
    if found.own_refund:
        return _("You marked it refunded: a second person must confirm it.")
    return found.reason
