import csv

from django.contrib import admin, messages
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from batches.models import BatchRun, ReconciliationItem
from shops.admin_scoping import ReadOnlyPermissions, ShopScopedAdmin


@admin.register(BatchRun)
class BatchRunAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    list_display = ["name", "status", "started_at", "finished_at", "processed", "failed"]
    list_filter = ["name", "status"]
    readonly_fields = ["name", "status", "started_at", "finished_at", "processed", "failed", "summary"]
    fields = readonly_fields

    # Batches span all shops: the run log is for superusers (operators see their effects per payment).
    def has_module_permission(self, request):
        return request.user.is_superuser

    has_view_permission = has_module_permission


class Echo:
    def write(self, value):
        return value


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ShopScopedAdmin):
    list_display = ["payment", "shop", "kind", "status", "detail", "gateway_status", "found_at", "last_seen_at"]
    list_filter = ["status", "kind", "shop"]
    list_select_related = ["payment", "shop"]
    search_fields = ["payment__gateway_order_id", "payment__reference"]
    readonly_fields = ["payment", "shop", "kind", "status", "detail", "gateway_status", "found_at", "last_seen_at",
                       "resolved_by", "resolved_at", "note"]
    actions = ["export_csv", "mark_resolved"]

    @admin.action(description=_("Download as CSV"))
    def export_csv(self, request, queryset):
        writer = csv.writer(Echo())
        header = ["OrderID", "reference", "shop", "kind", "status", "difference", "gateway status", "found at"]

        def rows():
            yield "\ufeff" + writer.writerow(header)  # BOM: Excel opens the Japanese text correctly
            for item in queryset.select_related("payment", "shop").iterator(chunk_size=1000):
                yield writer.writerow([item.payment.gateway_order_id, item.payment.reference, item.shop.code,
                                       item.get_kind_display(), item.get_status_display(), item.detail,
                                       item.gateway_status, timezone.localtime(item.found_at).isoformat()])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="reconciliation.csv"'
        return response

    @admin.action(description=_("Mark as resolved (decided by an operator)"))
    def mark_resolved(self, request, queryset):
        count = queryset.filter(status=ReconciliationItem.Status.OPEN).update(
            status=ReconciliationItem.Status.RESOLVED, resolved_by=request.user, resolved_at=timezone.now())
        messages.success(request, _("%(count)s item(s) marked resolved.") % {"count": count})

    def has_change_permission(self, request, obj=None):
        return self._is_member(request)  # needed for actions; every field is read-only
