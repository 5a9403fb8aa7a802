"""Payment pages: list, detail with the ledger inline, and operations through a confirm page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from bulk.admin_actions import bulk_cancel, bulk_capture
from gateways.gmo.messages import describe
from payments import card_rules, services
from payments.actors import Actor
from payments.admin_filters import PAYMENT_LIST_FILTERS
from payments.errors import GatewayDeclined, OutcomeUnknown, PaymentError
from payments.models import OperationKind, Payment, PaymentOperation
from payments.operations import SPECS
from shops.admin_scoping import ShopScopedAdmin
from shops.selectors import user_can


def yen(value: int) -> str:
    return f"¥{value:,}"


class OperationInline(admin.TabularInline):
    model = PaymentOperation
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "gateway_job", "amount", "state", "status_before", "status_after",
              "error_code", "error_message", "actor_label", "explanation", "resolution"]
    readonly_fields = fields
    ordering = ["created_at", "id"]
    verbose_name_plural = _l("History")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# Operations offered on the payment page, in order: (kind, permission).
PAGE_OPERATIONS = [OperationKind.CAPTURE, OperationKind.CANCEL]


@admin.register(Payment)
class PaymentAdmin(ShopScopedAdmin):
    list_display = ["gateway_order_id", "reference", "payer_name", "shop", "method", "status", "amount_yen",
                    "authorized_at", "captured_at"]
    list_filter = PAYMENT_LIST_FILTERS
    actions = [bulk_capture, bulk_cancel]
    search_fields = ["gateway_order_id", "reference", "payer_name", "payer_email"]
    list_select_related = ["shop"]
    date_hierarchy = "created_at"
    inlines = [OperationInline]
    readonly_fields = ["shop", "method", "status", "gateway_order_id", "access_id", "amount_yen",
                       "captured_yen", "refunded_yen", "reference", "payer_name", "payer_email", "authorized_at",
                       "captured_at", "cancelled_at", "gateway_status", "last_synced_at", "created_at"]
    fields = readonly_fields
    change_form_template = "admin/payments/payment/change_form.html"

    @admin.display(description=_l("amount (JPY)"), ordering="amount")
    def amount_yen(self, obj):
        return yen(obj.amount)

    @admin.display(description=_l("captured (JPY)"))
    def captured_yen(self, obj):
        return yen(obj.captured_amount)

    @admin.display(description=_l("refunded (JPY)"))
    def refunded_yen(self, obj):
        return yen(obj.refunded_amount)

    def get_urls(self):
        return [
            path("<int:pk>/operate/<str:kind>/", self.admin_site.admin_view(self.operate_view),
                 name="payments_payment_operate"),
            path("<int:pk>/sync/", self.admin_site.admin_view(self.sync_view), name="payments_payment_sync"),
            *super().get_urls(),
        ]

    def offered_operations(self, request, payment):
        """Only what is allowed from the current state AND permitted to this user."""
        now = timezone.now()
        offered = []
        for kind in PAGE_OPERATIONS:
            spec = SPECS[kind]
            if not user_can(request.user, payment.shop_id, spec.perm):
                continue
            verdict = card_rules.availability(kind, payment.status, authorized_at=payment.authorized_at,
                                              validity_days=payment.shop.authorization_validity_days, now=now)
            if verdict.allowed:
                offered.append((kind, OperationKind(kind).label))
        return offered

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "offered_operations": self.offered_operations(request, payment)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _payment_or_404(self, request, pk) -> Payment:
        payment = self.get_queryset(request).filter(pk=pk).first()
        if payment is None:
            raise Http404
        return payment

    def operate_view(self, request, pk, kind):
        payment = self._payment_or_404(request, pk)
        if kind not in PAGE_OPERATIONS:
            raise Http404
        spec = SPECS[kind]
        if not user_can(request.user, payment.shop_id, spec.perm):
            raise PermissionDenied
        detail_url = reverse("admin:payments_payment_change", args=[payment.pk])
        if request.method == "POST":
            # The version the operator saw on the confirm page: anything newer is "changed meanwhile".
            try:
                payment.version = int(request.POST.get("version", ""))
            except ValueError:
                raise Http404 from None
            self._run(request, payment, kind)
            return HttpResponseRedirect(detail_url)
        try:
            plan = spec.plan(payment, timezone.now())
            error = ""
        except PaymentError as exc:
            plan, error = None, exc.message
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "payment": payment,
            "kind": kind,
            "kind_label": OperationKind(kind).label,
            "plan": plan,
            "error": error,
            "detail_url": detail_url,
            "title": _("Confirm: %(op)s") % {"op": OperationKind(kind).label},
        }
        return TemplateResponse(request, "admin/payments/payment/confirm_operation.html", context)

    def _run(self, request, payment, kind):
        actor = Actor.for_user(request.user)
        run = {OperationKind.CAPTURE: services.capture_payment, OperationKind.CANCEL: services.cancel_payment}[kind]
        try:
            op = run(payment, by=actor)
        except GatewayDeclined as exc:
            codes = exc.gateway_code.split("|") if exc.gateway_code else []
            meaning = " / ".join(f"{c}: {describe(c, request.LANGUAGE_CODE)}" for c in codes)
            messages.error(request, _("The gateway refused; nothing was changed. %(meaning)s") % {"meaning": meaning})
        except OutcomeUnknown as exc:
            messages.warning(request, exc.message)
        except PaymentError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Done: %(what)s") % {"what": op.explanation})

    def sync_view(self, request, pk):
        payment = self._payment_or_404(request, pk)
        detail_url = reverse("admin:payments_payment_change", args=[payment.pk])
        if request.method != "POST":
            return HttpResponseRedirect(detail_url)
        try:
            result = services.sync_payment(payment, actor=Actor.for_user(request.user))
        except PaymentError as exc:
            messages.error(request, exc.message)
        else:
            lines = result.resolved + result.corrections + result.discrepancies
            summary = "; ".join(lines) if lines else _("no difference")
            messages.info(request, _("Gateway status %(status)s: %(summary)s")
                          % {"status": result.gateway_status, "summary": summary})
        return HttpResponseRedirect(detail_url)
