"""The refund task's page buttons and their confirm page: say what the step records, then run it through
refunds.services (which checks the permission, the status and the second-person rule again, under a lock).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from payments.actors import Actor
from payments.errors import PaymentError
from payments.formatting import yen
from refunds import services
from refunds.models import RefundTask, RefundTaskStatus
from refunds.steps import CONFIRM, MARK_REFUNDED, STEP_LABELS, offered_steps, reason_shown, verdict
from shops.roles import Perm
from shops.selectors import user_can


def _when(moment) -> str:
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else "—"


def step_effect(step: str, task: RefundTask) -> str:
    """What the step records, in the operator's words (the confirm page's statement)."""
    facts = {"amount": yen(task.amount), "payee": task.payee, "method": task.method_label}
    if step == MARK_REFUNDED:
        return _("You record that %(amount)s was given back by hand to %(payee)s (paid by %(method)s). Nothing is "
                 "sent to any gateway. The task becomes “%(status)s” and stays listed until a second person "
                 "confirms it; you cannot confirm it yourself.") % {
            **facts, "status": RefundTaskStatus.REFUNDED.label}
    return _("You confirm that %(amount)s was given back to %(payee)s (paid by %(method)s), as %(who)s recorded "
             "at %(when)s. The task becomes “%(status)s” and leaves the needs-attention lists; this cannot be "
             "undone.") % {**facts, "who": task.refunded_by_label or "—", "when": _when(task.refunded_at),
                           "status": RefundTaskStatus.CONFIRMED.label}


def _done_message(step: str, task: RefundTask) -> str:
    if step == MARK_REFUNDED:
        return _("Marked as refunded by hand: %(task)s. A second person must now confirm it.") % {"task": task}
    return _("Refund confirmed: %(task)s.") % {"task": task}


class RefundStepsMixin:
    """Mixed into RefundTaskAdmin (before ShopScopedAdmin)."""

    change_form_template = "admin/refunds/refundtask/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<int:pk>/step/<str:step>/", view(self.step_view), name="refunds_refundtask_step"),
                *super().get_urls()]

    def _task(self, request, pk) -> RefundTask:
        # Scoped to the user's shops: another shop's task and an unknown id are the same 404.
        found = (self.get_queryset(request).select_related("refunded_by", "refunded_by_token", "payment")
                 .filter(pk=pk).first())
        if found is None:
            raise Http404
        return found

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            may_refund = user_can(request.user, obj.shop_id, Perm.REFUND)
            context["refund_steps"] = {
                "may_refund": may_refund,
                "menu": offered_steps(obj, request.user.pk) if may_refund else [],
                "confirmed": obj.status == RefundTaskStatus.CONFIRMED,
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def step_view(self, request, pk, step):
        if step not in STEP_LABELS:
            raise Http404
        task = self._task(request, pk)
        if not user_can(request.user, task.shop_id, Perm.REFUND):
            raise PermissionDenied
        detail_url = reverse("admin:refunds_refundtask_change", args=[task.pk])
        note = request.POST.get("note", "")
        error = ""
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            try:
                self._run(step, task, Actor.for_user(request.user), note)
            except services.InvalidNote as exc:
                error = exc.message  # the page again, the note kept, to shorten it
            except PaymentError as exc:
                messages.error(request, exc.message)
                return HttpResponseRedirect(detail_url)
            else:
                task.refresh_from_db()
                messages.success(request, _done_message(step, task))
                return HttpResponseRedirect(detail_url)
        found = verdict(step, task, request.user.pk)
        label = STEP_LABELS[step]
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "task": task, "step": step,
            "label": label, "allowed": found.allowed, "reason": reason_shown(found), "effect": step_effect(step, task),
            "note": note, "note_max_length": services.NOTE_MAX_LENGTH, "error": error, "detail_url": detail_url,
            "title": _("Confirm: %(step)s") % {"step": label},
        }
        return TemplateResponse(request, "admin/refunds/refundtask/confirm_step.html", context)

    @staticmethod
    def _run(step: str, task: RefundTask, by: Actor, note: str) -> None:
        if step == MARK_REFUNDED:
            services.mark_refunded(task, by=by, note=note)
        elif step == CONFIRM:
            services.confirm_refund(task, by=by)
