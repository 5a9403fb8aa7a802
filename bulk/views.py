"""The run's pages inside the admin: progress with the item table, its live JSON, and Resume.

Thin: the run is already scoped by BulkRunAdmin.get_object (another shop's run is a 404).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from bulk.models import BulkRun
from bulk.selectors import STATE_FILTERS, item_rows, labelled, may_resume, state_labels
from bulk.services import resume_bulk_run

ITEMS_PER_PAGE = 100


def progress_data(run: BulkRun) -> dict:
    counts = run.counts()
    return {**counts, "status": run.status, "status_label": str(run.get_status_display()),
            "finished": run.status == BulkRun.Status.DONE and not counts["remaining"]}


def progress_view(modeladmin, request, run: BulkRun):
    data = progress_data(run)
    state = request.GET.get("state")
    state = state if state in STATE_FILTERS else None
    page = Paginator(item_rows(run, state), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    states = state_labels()
    filters = [("", _("All")), ("succeeded", _("Succeeded")), ("failed", _("Failed")), ("skipped", _("Skipped")),
               ("remaining", _("Remaining"))]
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta, "title": str(run), "run": run, "progress": data,
        "processed": data["total"] - data["remaining"], "page_obj": page,
        "rows": [labelled(row, states) for row in page.object_list], "state": state or "", "filters": filters,
        "can_resume": bool(data["remaining"]) and may_resume(request.user, run),
    }
    return TemplateResponse(request, "admin/bulk/bulkrun/progress.html", context)


def status_view(run: BulkRun):
    return JsonResponse(progress_data(run))


def resume_view(request, run: BulkRun):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not may_resume(request.user, run):
        raise PermissionDenied
    if resume_bulk_run(run):
        messages.success(request, _("The run was queued again; it continues with the remaining items."))
    else:
        messages.info(request, _("Nothing remains to be processed in this run."))
    return HttpResponseRedirect(reverse("admin:bulk_bulkrun_change", args=[run.pk]))
