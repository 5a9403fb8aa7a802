"""Manual refund tasks: listed until confirmed; marking refunded and confirming are two people's acts."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy

from payments.actors import Actor
from payments.errors import PaymentError
from payments.formatting import yen
from refunds import services
from refunds.models import RefundTask
from shops.admin_scoping import ShopScopedAdmin


def _apply(request, queryset, action, done_message):
    done = 0
    for task in queryset:
        try:
            action(task, by=Actor.for_user(request.user))
            done += 1
        except PaymentError as exc:
            messages.error(request, f"{task}: {exc.message}")
    if done:
        messages.success(request, done_message % {"count": done})


@admin.action(description=gettext_lazy("Mark as refunded by hand"))
def mark_refunded(modeladmin, request, queryset):
    _apply(request, queryset, services.mark_refunded, gettext_lazy("%(count)s refund(s) marked as refunded."))


@admin.action(description=gettext_lazy("Confirm the refund (a second person)"))
def confirm_refund(modeladmin, request, queryset):
    _apply(request, queryset, services.confirm_refund, gettext_lazy("%(count)s refund(s) confirmed."))


@admin.register(RefundTask)
class RefundTaskAdmin(ShopScopedAdmin):
    list_display = ["created_at", "shop", "payment", "amount_yen", "payee", "method", "status", "refunded_by",
                    "confirmed_by"]
    list_filter = ["status", "shop"]
    list_select_related = ["shop", "payment", "refunded_by", "confirmed_by"]
    search_fields = ["payee", "payment__reference", "payment__gateway_order_id"]
    readonly_fields = ["shop", "payment", "amount", "payee", "method", "reason", "status", "created_by_label",
                       "created_at", "refunded_by", "refunded_at", "confirmed_by", "confirmed_at"]
    fields = readonly_fields
    actions = [mark_refunded, confirm_refund]

    @admin.display(description=gettext_lazy("amount (JPY)"), ordering="amount")
    def amount_yen(self, obj):
        return yen(obj.amount)

