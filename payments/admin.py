"""Payment pages: list, detail with the ledger inline, and operations through a confirm page."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy

from bulk.admin_actions import bulk_cancel, bulk_capture, hide_unpermitted
from payments import admin_bank_import  # noqa: F401  (registers the bank statement import pages)
from payments.admin_filters import PAYMENT_LIST_FILTERS, AttentionColumnMixin
from payments.admin_operations import PaymentOperationsMixin, offered_operations
from payments.formatting import yen
from payments.konbini_display import store_rows
from payments.models import Payment, PaymentOperation, status_label
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin

# A business app links a payment to the page where it is operated (payments knows no reservation or order):
# each function returns (label, url) for a payment of its own, else None.
OWNER_LINKS: list[Callable[[Payment], tuple[str, str] | None]] = []
KONBINI_FIELDS = ["operated_from", "external_id", "payment_deadline", "konbini_numbers_table"]
BANK_TRANSFER_FIELDS = ["operated_from", "payer_kana"]


def register_owner_link(function):
    if function not in OWNER_LINKS:
        OWNER_LINKS.append(function)
    return function


class OperationInline(ReadOnlyScopedInline, admin.TabularInline):
    model = PaymentOperation
    fields = ["created_at", "kind", "gateway_job", "amount_yen", "state", "before", "after", "error_code",
              "error_message", "actor_label", "explanation", "resolution"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = gettext_lazy("History")
    classes = ["payment-history"]

    def get_queryset(self, request):
        # before/after read the payment's method: one join, not one query per history row.
        return super().get_queryset(request).select_related("payment")

    @admin.display(description=gettext_lazy("amount (JPY)"))
    def amount_yen(self, op):
        return yen(op.amount)

    @admin.display(description=gettext_lazy("status before"))
    def before(self, op):
        return status_label(op.payment.method, op.status_before)

    @admin.display(description=gettext_lazy("status after"))
    def after(self, op):
        return status_label(op.payment.method, op.status_after)


@admin.register(Payment)
class PaymentAdmin(AttentionColumnMixin, PaymentOperationsMixin, ShopScopedAdmin):
    list_display = ["gateway_order_id", "reference", "payer_name", "shop", "method", "status_display", "attention",
                    "amount_yen", "authorized_at", "authorization_expires_at", "captured_at"]
    list_filter = PAYMENT_LIST_FILTERS
    actions = [bulk_capture, bulk_cancel]
    search_fields = ["gateway_order_id", "reference", "payer_name", "payer_kana", "payer_email"]
    search_help_text = gettext_lazy("Order number, GMO OrderID, payer name or e-mail")
    list_select_related = ["shop"]
    date_hierarchy = "created_at"
    inlines = [OperationInline]
    readonly_fields = ["shop", "method", "status_display", "gateway_order_id", "access_id", "amount_yen",
                       "pending_yen", "wallet_points_used", "replaced_by",
                       "captured_yen", "refunded_yen", "reference", "payer_name", "payer_email", "authorized_at",
                       "captured_at", "cancelled_at", "gateway_status", "last_synced_at", "created_at"]
    fields = readonly_fields
    change_form_template = "admin/payments/payment/change_form.html"

    @admin.display(description=gettext_lazy("amount (JPY)"), ordering="amount")
    def amount_yen(self, obj):
        return yen(obj.amount)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_display(self, obj):
        return obj.get_status_display()

    @admin.display(description=gettext_lazy("unsent amount change (JPY)"))
    def pending_yen(self, obj):
        return "—" if obj.pending_amount is None else yen(obj.pending_amount)

    @admin.display(description=gettext_lazy("captured (JPY)"))
    def captured_yen(self, obj):
        return yen(obj.captured_amount)

    @admin.display(description=gettext_lazy("refunded (JPY)"))
    def refunded_yen(self, obj):
        return yen(obj.refunded_amount)

    # --- konbini: what the customer takes to the store, and where the payment is operated ----------------

    def get_fields(self, request, obj=None):
        if obj is not None and obj.is_konbini:
            return [*KONBINI_FIELDS, *self.fields]
        if obj is not None and obj.is_bank_transfer:
            return [*BANK_TRANSFER_FIELDS, *self.fields]
        return ["operated_from", *self.fields] if obj is not None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description=gettext_lazy("operated from"))
    def operated_from(self, obj):
        links = [found for link in OWNER_LINKS if (found := link(obj))]
        if not links:
            return "—"
        return format_html_join(" ", '<a href="{1}" class="owner-link">{0}</a>', links)

    @admin.display(description=gettext_lazy("konbini payment numbers"))
    def konbini_numbers_table(self, obj):
        numbers = obj.konbini_numbers or {}
        rows = [(row["name"], row.get("payment_code", ""), row.get("confirmation_number") or "—")
                for row in store_rows(obj)]
        if not rows:
            return "—"
        table = format_html('<table class="konbini-numbers"><tr><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>',
                            gettext_lazy("Store"), gettext_lazy("Payment number"),
                            gettext_lazy("Confirmation number"),
                            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows))
        voucher = numbers.get("hosted_voucher_url")
        if voucher:
            table = format_html('{}<p><a href="{}" rel="noopener" target="_blank">{}</a></p>', table, voucher,
                                gettext_lazy("Stripe's payment voucher page"))
        return table

    def get_urls(self):
        return [*self.operation_urls(), *super().get_urls()]

    def get_actions(self, request):
        return hide_unpermitted(request, super().get_actions(request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        extra = {**(extra_context or {}), "offered_operations": offered_operations(request.user, payment)}
        return super().change_view(request, object_id, form_url, extra)
