from django.contrib import admin
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from bulk.admin_actions import bulk_action, hide_unpermitted
from bulk.models import BulkRun
from claims.admin_order_actions import OrderClaimActionsMixin
from orders.admin_payment_panel import OrderPaymentPanelMixin
from orders.admin_slip_upload import SlipUploadAdminMixin
from orders.models import Order, OrderEvent, OrderLine, Shipment
from payments.models import Payment
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin


class LineInline(ReadOnlyScopedInline, admin.TabularInline):
    model = OrderLine
    readonly_fields = ["product_name", "options", "quantity", "unit_price", "tax_rate"]


class ShipmentInline(ReadOnlyScopedInline, admin.TabularInline):
    model = Shipment
    readonly_fields = ["address", "carrier", "slip_number", "shipped_at", "delivered_at", "returned_at"]
    fields = readonly_fields


class EventInline(ReadOnlyScopedInline, admin.TabularInline):
    model = OrderEvent
    readonly_fields = ["created_at", "actor_label", "message"]
    fields = readonly_fields
    verbose_name_plural = _("History")


BULK_ACTIONS = {BulkRun.Kind.CAPTURE: "capture_selected_orders"}


@admin.action(description=gettext_lazy("Bulk capture (実売上 / 決済完了) of the selected orders' payments"))
def capture_selected_orders(modeladmin, request, queryset):
    # The console's bulk run, on the payments of the selected orders (a cart's shared payment once).
    payments = Payment.objects.filter(pk__in=queryset.values("payment_id"))
    return bulk_action(BulkRun.Kind.CAPTURE, modeladmin, request, payments,
                       action_name=BULK_ACTIONS[BulkRun.Kind.CAPTURE])


@admin.register(Order)
class OrderAdmin(SlipUploadAdminMixin, OrderClaimActionsMixin, OrderPaymentPanelMixin, ShopScopedAdmin):
    list_display = ["number", "customer_name", "shop", "total_yen", "fulfilment_status", "delivery_status",
                    "payment_status", "created_at"]
    list_filter = ["fulfilment_status", "shop"]
    search_fields = ["number", "customer_name", "customer_email"]
    list_select_related = ["shop", "payment"]
    readonly_fields = ["shop", "number", "customer_name", "customer_email", "shipping_fee", "fees", "points_used",
                       "total", "fulfilment_status", "delivery_status", "ship_date", "payment", "created_at"]
    fields = readonly_fields
    inlines = [LineInline, ShipmentInline, EventInline]
    actions = [capture_selected_orders]

    def get_actions(self, request):
        return hide_unpermitted(request, super().get_actions(request), BULK_ACTIONS)

    @admin.display(description=_("total (JPY)"), ordering="total")
    def total_yen(self, obj):
        return f"¥{obj.total:,}"

    @admin.display(description=_("payment status"))
    def payment_status(self, obj):
        return obj.payment.get_status_display() if obj.payment else "—"
