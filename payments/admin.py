"""Payment pages: list, detail with the ledger inline, and operations through a confirm page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy

from bulk.admin_actions import bulk_cancel, bulk_capture, hide_unpermitted
from payments.admin_filters import PAYMENT_LIST_FILTERS, AttentionColumnMixin
from payments.admin_operations import PaymentOperationsMixin, offered_operations
from payments.formatting import yen
from payments.models import Payment, PaymentOperation, status_label
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin


class OperationInline(ReadOnlyScopedInline, admin.TabularInline):
    model = PaymentOperation
    fields = ["created_at", "kind", "gateway_job", "amount_yen", "state", "before", "after", "error_code",
              "error_message", "actor_label", "explanation", "resolution"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = gettext_lazy("History")
    classes = ["payment-history"]

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
    search_fields = ["gateway_order_id", "reference", "payer_name", "payer_email"]
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

    def get_urls(self):
        return [*self.operation_urls(), *super().get_urls()]

    def get_actions(self, request):
        return hide_unpermitted(request, super().get_actions(request))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        extra = {**(extra_context or {}), "offered_operations": offered_operations(request.user, payment)}
        return super().change_view(request, object_id, form_url, extra)
