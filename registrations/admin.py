"""Registration pages (SPEC 6): read-only and scoped to the user's shops; cancels only through the page's
"change" buttons and "Change status" (registrations.admin_cancel), each behind a confirm page."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, Sum
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from payments.admin import register_owner_link
from payments.formatting import yen
from payments.models import OperationKind
from payments.owned import limit_operations, limit_operations_in_querysets
from refunds.models import RefundTask, RefundTaskStatus
from registrations.admin_cancel import RegistrationCancelMixin, menu_for
from registrations.models import Event, LineStatus, Menu, Registration, RegistrationLog
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin
from shops.roles import Perm
from shops.selectors import user_can


class MenuInline(ReadOnlyScopedInline, admin.TabularInline):
    model = Menu
    fields = readonly_fields = ["kind", "name", "price", "tax_rate", "position"]


@admin.register(Event)
class EventAdmin(ShopScopedAdmin):
    list_display = ["title", "held_on", "shop", "created_at"]
    list_select_related = ["shop"]
    search_fields = ["title"]
    fields = readonly_fields = ["shop", "title", "held_on", "created_at"]
    inlines = [MenuInline]


class HistoryInline(ReadOnlyScopedInline, admin.TabularInline):
    model = RegistrationLog
    fields = readonly_fields = ["at", "actor_label", "message"]
    verbose_name_plural = _("History")


class MethodFilter(admin.SimpleListFilter):
    title = _("payment method")
    parameter_name = "method"

    def lookups(self, request, model_admin):
        from payments.models import Method

        return [(m.value, m.label) for m in (Method.CARD, Method.KONBINI, Method.BANK_TRANSFER)]

    def queryset(self, request, queryset):
        return queryset.filter(payment__method=self.value()) if self.value() else queryset


class RefundPendingFilter(admin.SimpleListFilter):
    """Needs attention: a manual refund of this registration's payment not yet confirmed."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("refund", _("Manual refund not confirmed"))]

    def queryset(self, request, queryset):
        return queryset.filter(refund_pending=True) if self.value() == "refund" else queryset


@admin.register(Registration)
class RegistrationAdmin(RegistrationCancelMixin, ShopScopedAdmin):
    change_form_template = "admin/registrations/registration/change_form.html"
    list_display = ["number", "participant_name", "event", "status", "payment_method", "payment_status",
                    "paid_lines", "attention", "created_at"]
    list_filter = ["status", MethodFilter, RefundPendingFilter, "event"]
    search_fields = ["number", "participant_name", "participant_kana", "participant_email"]
    list_select_related = ["event", "payment", "shop"]
    fields = readonly_fields = ["shop", "event", "number", "participant_name", "participant_kana",
                                "participant_email", "status", "created_at"]
    inlines = [HistoryInline]

    def get_urls(self):
        return [*self.cancel_urls(), *super().get_urls()]

    def get_queryset(self, request):
        # The list's amount and attention columns come from the same query: no query per row.
        pending = RefundTask.objects.filter(payment_id=OuterRef("payment_id")).exclude(
            status=RefundTaskStatus.CONFIRMED)
        return super().get_queryset(request).annotate(
            active_total=Sum("lines__price", filter=Q(lines__status=LineStatus.ACTIVE)),
            refund_pending=Exists(pending))

    @admin.display(description=_("payment method"), ordering="payment__method")
    def payment_method(self, obj):
        return obj.payment.get_method_display() if obj.payment else "—"

    @admin.display(description=_("payment status"), ordering="payment__status")
    def payment_status(self, obj):
        return obj.payment.get_status_display() if obj.payment else "—"

    @admin.display(description=_("registered lines (JPY)"), ordering="active_total")
    def paid_lines(self, obj):
        return yen(obj.active_total or 0)

    @admin.display(description=_("needs attention"))
    def attention(self, obj):
        return _("Manual refund not confirmed") if obj.refund_pending else ""

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            payment = obj.payment
            context["panel"] = {
                "payment": payment, **menu_for(request.user, obj),
                "active_total": sum(line.price for line in obj.lines.all() if line.is_active),
                "refund_tasks": list(payment.refund_tasks.all()) if payment else [],
                "gateway_changed": request.session.get(f"gateway_changed_{obj.pk}", False),
                "may_mark_paid": bool(payment and payment.is_bank_transfer and payment.status == "awaiting_payment"
                                      and user_can(request.user, obj.shop_id, Perm.MARK_PAID)),
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_object(self, request, object_id, from_field=None):
        # One read, with the lines the panel and the buttons share; another shop's and unknown ids are 404.
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        if not str(object_id).isdigit():
            raise Http404
        return self._registration(request, object_id)


@limit_operations
def registration_payment_operations(payment):
    """A registration's payment is cancelled or reduced line by line from its registration (the lines must follow
    the money); its payment page and the payments API keep only capture (an authorize-only shop's 仮売上)."""
    if not Registration.objects.filter(payment=payment).exists():
        return None
    return [OperationKind.CAPTURE]


@limit_operations_in_querysets
def registration_payments_kept(kind: str):
    """The same rule for querysets (bulk runs): only capture goes outside the registration."""
    if kind == OperationKind.CAPTURE:
        return None
    return Q(Exists(Registration.objects.filter(payment_id=OuterRef("pk"))))


@register_owner_link
def registration_page(payment):
    registration = Registration.objects.filter(payment=payment).first()
    if registration is None:
        return None
    return str(_("Registration: %(number)s") % {"number": registration.number}), reverse(
        "admin:registrations_registration_change", args=[registration.pk])
