"""Reservation pages: read-only and scoped to the user's shops; changes only through the actions and the
reservation page's operations (reservations.admin_payment_panel), each behind a confirm page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from payments.admin import register_owner_link
from payments.formatting import yen
from payments.models import Method, status_label
from payments.models import Status as PaymentStatus
from payments.owned import limit_operations
from reservations.admin_actions import approve_selected, cancel_selected, hide_unpermitted, promote_selected
from reservations.admin_dashboard import ANY_KONBINI, ATTENTION_PARAM  # also registers the dashboard figure
from reservations.admin_payment_panel import ReservationPaymentPanelMixin
from reservations.models import ReservableEvent, Reservation, ReservationEvent, Slot
from reservations.selectors import (
    ATTENTION_STATUSES,
    EXPIRED,
    NOT_ISSUED,
    attention_of,
    needs_attention_condition,
    reservation_of_payment,
    waitlist_position,
    with_seats,
)
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin
from shops.selectors import shops_for_user


class SlotInline(ReadOnlyScopedInline, admin.TabularInline):
    model = Slot
    readonly_fields = ["starts_at", "capacity", "taken", "left"]
    fields = readonly_fields

    def get_queryset(self, request):
        # One aggregate query for all rows instead of two per slot (seats_taken / seats_left each).
        return with_seats(super().get_queryset(request))

    @admin.display(description=_("seats taken"))
    def taken(self, obj):
        return obj.seats_taken

    @admin.display(description=_("seats left"))
    def left(self, obj):
        return obj.seats_left


@admin.register(ReservableEvent)
class ReservableEventAdmin(ShopScopedAdmin):
    list_display = ["title", "shop", "acceptance_mode", "waitlist_enabled", "waitlist_promotion", "price_yen",
                    "created_at"]
    list_filter = ["acceptance_mode", "waitlist_enabled"]
    search_fields = ["title"]
    list_select_related = ["shop"]
    readonly_fields = ["shop", "title", "acceptance_mode", "waitlist_enabled", "waitlist_promotion", "price",
                       "created_at"]
    fields = readonly_fields
    inlines = [SlotInline]

    @admin.display(description=_("price (JPY)"), ordering="price")
    def price_yen(self, obj):
        return f"¥{obj.price:,}"


class EventFilter(admin.SimpleListFilter):
    """By event, offering only the user's shops' events (a related-field filter would list every shop's)."""

    title = _("event")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        events = ReservableEvent.objects.filter(shop__in=shops_for_user(request.user)).order_by("title")
        return [(str(e.pk), e.title) for e in events]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(slot__event_id=value) if value and value.isdigit() else queryset


class PaymentStatusFilter(admin.SimpleListFilter):
    """決済 status under the konbini labels (the only method reservations take), or "no online payment"."""

    title = _("payment status")
    parameter_name = "payment_status"
    NONE = "none"
    ORDER = (PaymentStatus.AWAITING_APPROVAL, PaymentStatus.UNPROCESSED, PaymentStatus.AWAITING_PAYMENT,
             PaymentStatus.PAID, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED)

    def lookups(self, request, model_admin):
        return [*[(s.value, status_label(Method.KONBINI, s)) for s in self.ORDER],
                (self.NONE, _("No online payment"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(payment__isnull=True)
        return queryset.filter(payment__status=value) if value in PaymentStatus.values else queryset


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Confirmed reservations whose konbini payment needs a decision (reservations.selectors.needs_attention)."""

    title = _("needs attention")
    parameter_name = ATTENTION_PARAM
    ANY = ANY_KONBINI

    def lookups(self, request, model_admin):
        return [(self.ANY, _("Konbini: decision needed (all)")),
                (EXPIRED, _("Konbini payment expired (決済エラー)")),
                (NOT_ISSUED, _("Konbini numbers not issued"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.ANY:
            return queryset.filter(needs_attention_condition())
        return queryset.filter(needs_attention_condition(value)) if value in ATTENTION_STATUSES else queryset


class HistoryInline(ReadOnlyScopedInline, admin.TabularInline):
    model = ReservationEvent
    readonly_fields = ["at", "actor_label", "message"]
    fields = readonly_fields
    verbose_name_plural = _("History")


@admin.register(Reservation)
class ReservationAdmin(ReservationPaymentPanelMixin, ShopScopedAdmin):
    # The reservation's status and its payment's side by side (SPEC 6); all from one joined query.
    list_display = ["customer_name", "seats", "status", "payment_method", "payment_status", "payment_amount",
                    "payment_deadline", "attention", "event_title", "slot_starts_at", "shop", "created_at"]
    list_filter = ["status", PaymentStatusFilter, NeedsAttentionFilter, EventFilter]
    search_fields = ["customer_name", "customer_email"]
    list_select_related = ["slot__event", "shop", "payment"]
    readonly_fields = ["shop", "slot", "customer_name", "customer_email", "seats", "status", "position",
                       "created_at", "status_changed_at"]
    fields = readonly_fields
    inlines = [HistoryInline]
    actions = [approve_selected, cancel_selected, promote_selected]

    def get_actions(self, request):
        return hide_unpermitted(request, super().get_actions(request))

    @admin.display(description=_("event"), ordering="slot__event__title")
    def event_title(self, obj):
        return obj.slot.event.title

    @admin.display(description=_("starts at"), ordering="slot__starts_at")
    def slot_starts_at(self, obj):
        return obj.slot.starts_at

    @admin.display(description=_("waitlist position"))
    def position(self, obj):
        return waitlist_position(obj) or "—"

    @admin.display(description=_("payment status"), ordering="payment__status")
    def payment_status(self, obj):
        return obj.payment.get_status_display() if obj.payment else "—"

    @admin.display(description=_("amount (JPY)"), ordering="payment__amount")
    def payment_amount(self, obj):
        return yen(obj.payment.amount) if obj.payment else "—"

    @admin.display(description=_("payment deadline"), ordering="payment__payment_deadline")
    def payment_deadline(self, obj):
        return obj.payment.payment_deadline if obj.payment and obj.payment.payment_deadline else "—"

    @admin.display(description=_("needs attention"))
    def attention(self, obj):
        kind = attention_of(obj)
        return {EXPIRED: _("Decision needed: payment expired"), NOT_ISSUED: _("Numbers not issued")}.get(kind, "")


@limit_operations
def reservation_payment_operations(payment):
    """A reservation's konbini payment follows the reservation (numbers at confirmation, cancel with the seats):
    the payment page and the payments API do nothing to it."""
    if not payment.is_konbini or reservation_of_payment(payment) is None:
        return None
    return []


@register_owner_link
def reservation_page(payment):
    """From a konbini payment's page to the reservation it belongs to (where it is operated)."""
    if not payment.is_konbini:
        return None
    reservation = reservation_of_payment(payment)
    if reservation is None:
        return None
    return str(_("Reservation: %(who)s") % {"who": reservation.customer_name}), reverse(
        "admin:reservations_reservation_change", args=[reservation.pk])
