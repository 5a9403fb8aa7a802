"""Claims in the admin: the list (filters, needs attention), the claim page (history, memos, money outcome and
the steps allowed now, each behind a confirm page: claims.admin_steps) and the claim board (admin_board).

Read-only: every change goes through claims.services.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from claims import admin_board
from claims.admin_dashboard import open_claims  # noqa: F401  (registers the dashboard figures)
from claims.admin_filters import WithdrawalFilter
from claims.admin_steps import CLAIM_STEPS, step_page
from claims.models import Claim, ClaimEvent
from payments.formatting import yen
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin
from shops.roles import Perm
from shops.selectors import user_can


class EventInline(ReadOnlyScopedInline, admin.TabularInline):
    model = ClaimEvent
    readonly_fields = ["at", "actor_label", "message"]
    fields = readonly_fields
    verbose_name_plural = _("History")


@admin.register(Claim)
class ClaimAdmin(ShopScopedAdmin):
    change_form_template = "admin/claims/claim/change_form.html"
    list_display = ["order_number", "customer", "kind", "state", "reason", "refund", "created_at"]
    list_filter = [WithdrawalFilter, "kind", "state", "refund_state", "requested_by"]
    list_select_related = ["order"]
    search_fields = ["order__number", "order__customer_name"]
    fieldsets = [
        (None, {"fields": ["order_link", "kind", "state", "requested_by", "reason", "withdrawal_deadline",
                           "created_at", "completed_at"]}),
        (_("Memos"), {"fields": ["seller_memo", "internal_memo"]}),
        (_("Money outcome"), {"fields": ["refund", "fee_refund", "refund_route", "item_received_at",
                                         "refund_approved_at"]}),
    ]
    readonly_fields = ["order_link", "kind", "state", "requested_by", "reason", "withdrawal_deadline", "created_at",
                       "completed_at", "seller_memo", "internal_memo", "refund", "fee_refund", "refund_route",
                       "item_received_at", "refund_approved_at"]
    inlines = [EventInline]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("board/", view(self.board_view), name="claims_board"),
            path("<int:pk>/step/<str:step>/", view(self.step_view), name="claims_claim_step"),
            *super().get_urls(),
        ]

    def _claim(self, request, pk) -> Claim:
        # Scoped: another shop's claim and an unknown id are the same 404.
        claim = self.get_queryset(request).select_related("order__payment").filter(pk=pk).first()
        if claim is None:
            raise Http404
        return claim

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            may = user_can(request.user, obj.shop_id, Perm.CANCEL)
            context["claim_steps"] = [step for step in CLAIM_STEPS.values() if may and step.offered(obj)]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def step_view(self, request, pk, step):
        if step not in CLAIM_STEPS:
            raise Http404
        claim = self._claim(request, pk)
        if not user_can(request.user, claim.shop_id, Perm.CANCEL):
            raise PermissionDenied
        return step_page(self, request, CLAIM_STEPS[step], claim,
                         back_url=reverse("admin:claims_claim_change", args=[claim.pk]), heading=str(claim))

    def board_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return admin_board.board_page(self, request)

    @admin.display(description=_("order number"), ordering="order__number")
    def order_number(self, obj):
        return obj.order.number

    @admin.display(description=_("customer"), ordering="order__customer_name")
    def customer(self, obj):
        return obj.order.customer_name

    @admin.display(description=_("refund"), ordering="refund_state")
    def refund(self, obj):
        if not obj.refund_amount:
            return obj.get_refund_state_display()
        return f"{obj.get_refund_state_display()} {yen(obj.refund_amount)}"

    @admin.display(description=_("transfer fee refunded"))
    def fee_refund(self, obj):
        return yen(obj.fee_refund_amount) if obj.fee_refund_amount else "—"

    @admin.display(description=_("refunded how"))
    def refund_route(self, obj):
        if obj.refund_task_id:
            return format_html('<a href="{}" id="claim-refund-task">{}</a>',
                               reverse("admin:refunds_refundtask_change", args=[obj.refund_task_id]),
                               _("Manual refund task"))
        if obj.refund_operation_id:
            return format_html('<a href="{}" id="claim-refund-operation">{}</a>',
                               reverse("admin:payments_payment_change", args=[obj.order.payment_id]),
                               _("At the gateway (linked)"))
        return "—"

    @admin.display(description=_("order"))
    def order_link(self, obj):
        return format_html('<a href="{}" id="claim-order">{}</a>',
                           reverse("admin:orders_order_change", args=[obj.order_id]), obj.order.number)
