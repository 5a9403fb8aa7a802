"""Receipts in the admin: the list of issued receipts (read-only) and the "Receipt (PDF)" downloads.

The downloads hang off this admin's URLs: admin:receipts_registration_receipt and admin:receipts_order_receipt
(args: the registration's / order's pk). Another shop's registration or order is a 404; a refused receipt goes
back to the page it came from with the reason.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from orders.models import Order
from payments.actors import Actor
from payments.errors import PaymentError
from receipts.models import ReceiptIssue
from receipts.services import issue_receipt
from registrations.models import Registration
from shops.admin_scoping import ShopScopedAdmin
from shops.selectors import shops_for_user


@admin.register(ReceiptIssue)
class ReceiptIssueAdmin(ShopScopedAdmin):
    list_display = ["issued_at", "number", "copy", "recipient", "amount_yen", "source_link", "issued_by_label",
                    "shop"]
    list_filter = ["reissue", "shop"]
    search_fields = ["number", "recipient"]
    list_select_related = ["shop"]
    date_hierarchy = "issued_at"
    fields = ["shop", "number", "sequence", "reissue", "recipient", "amount", "registration", "order", "issued_at",
              "issued_by_label"]
    readonly_fields = fields

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("registration/<int:pk>/pdf/", view(self.registration_receipt_view),
                 name="receipts_registration_receipt"),
            path("order/<int:pk>/pdf/", view(self.order_receipt_view), name="receipts_order_receipt"),
            *super().get_urls(),
        ]

    @admin.display(description=_("copy"), ordering="sequence")
    def copy(self, obj):
        return _("Reissue #%(n)s") % {"n": obj.sequence - 1} if obj.reissue else _("Original")

    @admin.display(description=_("amount (JPY)"), ordering="amount")
    def amount_yen(self, obj):
        return f"¥{obj.amount:,}"

    @admin.display(description=_("for"))
    def source_link(self, obj):
        url = _change_url(obj.source)
        label = _("registration") if obj.registration_id else _("order")
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    # --- downloads -------------------------------------------------------------------------------------------

    def registration_receipt_view(self, request, pk):
        return self._download(request, Registration, pk)

    def order_receipt_view(self, request, pk):
        return self._download(request, Order, pk)

    def _download(self, request, model, pk):
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        source = _scoped(model, request.user).filter(pk=pk).first()
        if source is None:
            raise Http404  # another shop's and an unknown one look the same
        try:
            issue, pdf = issue_receipt(source, by=Actor.for_user(request.user))
        except PaymentError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(_back_url(request, source))
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="receipt-{_filename_safe(issue.number)}.pdf"'
        return response


def _scoped(model, user):
    qs = model.objects.all()
    return qs if user.is_superuser else qs.filter(shop__in=shops_for_user(user))


def _change_url(obj) -> str:
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def _back_url(request, source) -> str:
    nxt = request.GET.get("next") or request.POST.get("next")
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return nxt
    return _change_url(source) or reverse("admin:receipts_receiptissue_changelist")


def _filename_safe(number: str) -> str:
    # Registration / order numbers are codes, but a header must never carry quotes or line breaks.
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in number)
