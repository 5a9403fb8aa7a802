"""Manual refund tasks: listed until confirmed; marking refunded and confirming are two people's acts.

The list (filter "needs attention", linked from the dashboard) and the task's page with its two steps, each
behind a confirm page (refunds.admin_steps). The bulk actions run the same services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy

from payments.actors import Actor
from payments.admin_filters import UserShopFilter
from payments.errors import PaymentError
from payments.formatting import yen
from refunds import services
from refunds.admin_dashboard import ATTENTION_PARAM  # noqa: F401  (also registers the dashboard figures)
from refunds.admin_filters import MethodFilter, NeedsAttentionFilter
from refunds.admin_steps import RefundStepsMixin
from refunds.models import RefundTask, RefundTaskStatus
from refunds.origins import origin_links
from shops.admin_scoping import ShopScopedAdmin
from shops.roles import Perm
from shops.selectors import shops_for_user, user_can

ACTION_NAMES = ("mark_refunded", "confirm_refund")


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
class RefundTaskAdmin(RefundStepsMixin, ShopScopedAdmin):
    list_display = ["created_at", "age", "shop", "payment", "amount_yen", "payee", "method_display", "status",
                    "refunded_by", "confirmed_by"]
    # The default view shows every task; "needs attention" (and the dashboard's links) narrow it.
    list_filter = [NeedsAttentionFilter, "status", MethodFilter, ("shop", UserShopFilter)]
    list_select_related = ["shop", "payment", "refunded_by", "confirmed_by"]
    search_fields = ["payee", "payment__reference", "payment__gateway_order_id"]
    fieldsets = [
        (None, {"fields": ["amount_yen", "payee", "method_display", "reason", "status"]}),
        (gettext_lazy("Where it came from"), {"fields": ["shop", "payment_link", "origin"]}),
        (gettext_lazy("History"), {"fields": ["created_by_label", "created_at", "refunded_by", "refunded_by_token",
                                               "refunded_at", "refund_note", "confirmed_by", "confirmed_by_token",
                                               "confirmed_at"]}),
    ]
    readonly_fields = ["amount_yen", "payee", "method_display", "reason", "status", "shop", "payment_link",
                       "origin", "created_by_label", "created_at", "refunded_by", "refunded_by_token", "refunded_at",
                       "refund_note", "confirmed_by", "confirmed_by_token", "confirmed_at"]
    actions = [mark_refunded, confirm_refund]

    def get_actions(self, request):
        actions = super().get_actions(request)
        shop_ids = shops_for_user(request.user).values_list("pk", flat=True)
        if not any(user_can(request.user, shop_id, Perm.REFUND) for shop_id in shop_ids):
            for name in ACTION_NAMES:
                actions.pop(name, None)
        return actions

    @admin.display(description=gettext_lazy("amount (JPY)"), ordering="amount")
    def amount_yen(self, obj):
        return yen(obj.amount)

    @admin.display(description=gettext_lazy("paid by"), ordering="method")
    def method_display(self, obj):
        return obj.method_label

    @admin.display(description=gettext_lazy("age"), ordering="created_at")
    def age(self, obj):
        """How long the task has been waiting (nothing once confirmed)."""
        if obj.status == RefundTaskStatus.CONFIRMED:
            return "—"
        return timesince(obj.created_at, timezone.now(), depth=1)

    @admin.display(description=gettext_lazy("payment"))
    def payment_link(self, obj):
        payment = obj.payment
        return format_html('<a href="{}" id="refund-payment-link">{}</a>',
                           reverse("admin:payments_payment_change", args=[payment.pk]), str(payment))

    @admin.display(description=gettext_lazy("operated from"))
    def origin(self, obj):
        links = origin_links(obj.payment)
        if not links:
            return "—"
        return format_html_join(" ", '<a href="{1}" class="refund-origin-link">{0}</a>', links)
