"""Admin actions on the payment list that start bulk runs: a confirm page with the money effect first.

Selection transport: the confirm form posts back to the same changelist URL (whose querystring keeps
the list's filters and search) with the same action, the selected ids and `select_across`. Django's
changelist then rebuilds the queryset exactly as the list did, scoped by PaymentAdmin.get_queryset,
so nothing re-implements filter parsing and no id list of a 100k "select all" travels in a form.
Posted with it: `cutoff` (the highest payment id the confirm page saw: newer payments never join)
and `fingerprint` (of each payment's job and amount): if the selection now differs, the confirm page
is shown again instead of running something other than what the operator confirmed.
"""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bulk.models import KIND_PERMS, BulkRun
from bulk.selection import Summary, summarize
from bulk.services import SelectionChanged, start_run
from shops.selectors import shops_for_user, user_can

CONFIRM_FIELD = "bulk_confirm"
ACTION_NAMES = {BulkRun.Kind.CAPTURE: "bulk_capture", BulkRun.Kind.CANCEL: "bulk_cancel"}
# Changelist parameters that do not narrow the selection (ordering, page, popup).
NOT_FILTERS = {"o", "p", "_popup", "_to_field"}


class ConfirmForm(forms.Form):
    request_key = forms.UUIDField()
    fingerprint = forms.CharField(max_length=64)
    cutoff = forms.IntegerField(min_value=0)


def permitted_somewhere(user, kind: str) -> bool:
    perm = KIND_PERMS[kind]
    return any(user_can(user, shop_id, perm) for shop_id in shops_for_user(user).values_list("pk", flat=True))


def hide_unpermitted(request, actions: dict, names: dict = ACTION_NAMES) -> dict:
    """For get_actions: drop the bulk actions (`names`: kind → action name) the user may use in none of their
    shops."""
    for kind, name in names.items():
        if name in actions and not permitted_somewhere(request.user, kind):
            del actions[name]
    return actions


def _select_across(request) -> bool:
    return request.POST.get("select_across", "0") not in ("0", "", "False", "false")


def describe_selection(request) -> str:
    if not _select_across(request):
        return _("%(count)s selected payments") % {"count": len(request.POST.getlist(ACTION_CHECKBOX_NAME))}
    filters = "; ".join(f"{key}={value}" for key, value in request.GET.items() if key not in NOT_FILTERS)
    if not filters:
        return _("All payments in the list")
    return _("All payments matching the list filter: %(filters)s") % {"filters": filters}


def _render_confirm(kind, action_name, modeladmin, request, summary: Summary, *, changed: bool = False):
    title = _("Confirm: %(what)s") % {"what": BulkRun.Kind(kind).label}
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta, "title": title, "kind": kind, "summary": summary, "changed": changed,
        "action_name": action_name, "select_across": _select_across(request),
        "selected_ids": request.POST.getlist(ACTION_CHECKBOX_NAME), "description": describe_selection(request),
        "request_key": uuid.uuid4(), "changelist_url": request.get_full_path(),
    }
    return TemplateResponse(request, "admin/bulk/confirm.html", context)


def _start(kind, action_name, modeladmin, request, queryset):
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The confirmation form was incomplete; nothing was started."))
        return None
    data = form.cleaned_data
    with translation.override(settings.LANGUAGE_CODE):  # stored like the items' messages
        description = describe_selection(request)
    try:
        run = start_run(kind=kind, queryset=queryset, user=request.user, request_key=data["request_key"],
                        fingerprint=data["fingerprint"], cutoff=data["cutoff"],
                        description=description)
    except SelectionChanged:
        summary = summarize(kind, queryset, request.user, timezone.now())
        return _render_confirm(kind, action_name, modeladmin, request, summary, changed=True)
    messages.success(request, _("Bulk run #%(id)s started.") % {"id": run.pk})
    return HttpResponseRedirect(reverse("admin:bulk_bulkrun_change", args=[run.pk]))


def bulk_action(kind, modeladmin, request, queryset, action_name: str | None = None):
    """Confirm page, then the run. `action_name`: the changelist action the confirm form posts back to (by
    default the payment list's own)."""
    action_name = action_name or ACTION_NAMES[kind]
    if not permitted_somewhere(request.user, kind):
        messages.error(request, {BulkRun.Kind.CAPTURE: _("You are not allowed to capture payments."),
                                 BulkRun.Kind.CANCEL: _("You are not allowed to cancel payments.")}[kind])
        return None
    if request.POST.get(CONFIRM_FIELD) == "1":
        return _start(kind, action_name, modeladmin, request, queryset)
    return _render_confirm(kind, action_name, modeladmin, request,
                           summarize(kind, queryset, request.user, timezone.now()))


@admin.action(description=gettext_lazy("Bulk capture (実売上)"))
def bulk_capture(modeladmin, request, queryset):
    return bulk_action(BulkRun.Kind.CAPTURE, modeladmin, request, queryset)


@admin.action(description=gettext_lazy("Bulk cancel (取消・返品・月跨返品)"))
def bulk_cancel(modeladmin, request, queryset):
    return bulk_action(BulkRun.Kind.CANCEL, modeladmin, request, queryset)
