"""伝票番号一括登録 in the admin: upload page, per-upload result page and report CSV (orders.slip_upload).

Mixed into OrderAdmin. Uploads are scoped like orders: another shop's upload is a 404, and uploading
needs Perm.CAPTURE in the chosen shop (the service checks it again).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders.models import SlipUpload
from orders.slip_csv import COLUMN_ALIASES, ReportEntry, ReportResult, report_csv
from orders.slip_upload import UploadRefused, accept_upload, refuse_too_large
from payments.actors import Actor
from payments.errors import NotPermitted
from shops.models import Shop
from shops.roles import Perm
from shops.selectors import shops_for_user, user_can

ROWS_PER_PAGE = 500


def capture_shops(user):
    return [shop for shop in shops_for_user(user).order_by("name") if user_can(user, shop.pk, Perm.CAPTURE)]


def enqueue(upload_id: int) -> None:
    from orders.tasks import process_slip_upload  # the task module imports the processing engine

    process_slip_upload.delay(upload_id)


class SlipUploadForm(forms.Form):
    shop = forms.ModelChoiceField(label=gettext_lazy("Shop"), queryset=Shop.objects.none())
    file = forms.FileField(label=gettext_lazy("CSV file"))

    def __init__(self, *args, shops, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["shop"].queryset = Shop.objects.filter(pk__in=[shop.pk for shop in shops]).order_by("name")
        if len(shops) == 1:
            self.fields["shop"].initial = shops[0].pk


class SlipUploadAdminMixin:
    """Mixed into OrderAdmin, first: its paths must come before the admin's catch-all <object_id>/."""

    change_list_template = "admin/orders/slip_upload/order_change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("slip-upload/", view(self.slip_upload_view), name="orders_order_slip_upload"),
            path("slip-upload/<int:upload_id>/", view(self.slip_upload_result_view),
                 name="orders_order_slip_upload_result"),
            path("slip-upload/<int:upload_id>/report.csv", view(self.slip_upload_report_view),
                 name="orders_order_slip_upload_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_upload_slips": bool(capture_shops(request.user)), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def _context(self, request, title: str, **extra) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def _upload(self, request, upload_id) -> SlipUpload:
        if not self.has_view_permission(request):
            raise PermissionDenied
        # Another shop's upload and an unknown id look the same: 404. The file's bytes are not needed here.
        upload = SlipUpload.objects.defer("data").filter(pk=upload_id, shop__in=shops_for_user(request.user)).first()
        if upload is None:
            raise Http404
        return upload

    def slip_upload_view(self, request):
        shops = capture_shops(request.user)
        if not shops:
            raise PermissionDenied  # e.g. a viewer: nothing here they may do
        form = SlipUploadForm(request.POST or None, request.FILES or None, shops=shops)
        if request.method == "POST" and form.is_valid():
            file = form.cleaned_data["file"]
            try:
                refuse_too_large(file.size)
                upload, created = accept_upload(form.cleaned_data["shop"], file.read(), file.name,
                                                by=Actor.for_user(request.user))
            except UploadRefused as exc:
                form.add_error("file", exc.message)
            except NotPermitted as exc:
                raise PermissionDenied(exc.message) from exc
            else:
                if created:
                    messages.success(request, _("The file was uploaded; its rows are being processed."))
                else:
                    messages.warning(request, _("This file was already uploaded on %(date)s: nothing was "
                                                "processed again.") % {
                        "date": formats.date_format(timezone.localtime(upload.created_at), "DATETIME_FORMAT")})
                if upload.status != SlipUpload.Status.DONE:
                    # Also for a re-upload of a file still waiting (e.g. the queue was down): processing is
                    # claimed and skips the rows done, so queueing it again never processes a row twice.
                    transaction.on_commit(lambda: enqueue(upload.pk), robust=True)
                return HttpResponseRedirect(reverse("admin:orders_order_slip_upload_result", args=[upload.pk]))
        recent = SlipUpload.objects.defer("data", "entries").filter(shop__in=shops).select_related("shop")[:10]
        columns = [(" / ".join(COLUMN_ALIASES[field][:2]), required) for field, required in
                   (("order_number", True), ("carrier", False), ("slip_number", True))]
        return TemplateResponse(request, "admin/orders/slip_upload/upload.html", self._context(
            request, _("Upload slip numbers"), form=form, recent=recent, columns=columns))

    def slip_upload_result_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        result = request.GET.get("result", "")
        entries = sorted((e for e in upload.entries if not result or e["result"] == result), key=lambda e: e["line"])
        labels = dict(ReportResult.choices)
        page = Paginator(entries, ROWS_PER_PAGE).get_page(request.GET.get("page"))
        for entry in page.object_list:
            entry["result_label"] = labels.get(entry["result"], entry["result"])
        counts = [(value, label, getattr(upload, f"{value}_count")) for value, label in ReportResult.choices]
        return TemplateResponse(request, "admin/orders/slip_upload/result.html", self._context(
            request, _("Slip number upload: %(file)s") % {"file": upload.filename}, upload=upload,
            counts=counts, page_obj=page, result=result, done=upload.status == SlipUpload.Status.DONE))

    def slip_upload_report_view(self, request, upload_id):
        upload = self._upload(request, upload_id)
        keys = ("line", "order_number", "slip_number", "result", "message")
        body = report_csv(ReportEntry(**{k: e.get(k, "") for k in keys}) for e in upload.entries)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="slip-upload-{upload.pk}-report.csv"'
        return response
