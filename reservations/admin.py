"""Reservation pages: read-only and scoped to the user's shops; changes only through the actions."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from reservations.admin_actions import approve_selected, cancel_selected, hide_unpermitted, promote_selected
from reservations.models import ReservableEvent, Reservation, ReservationEvent, Slot
from reservations.selectors import waitlist_position, with_seats_taken
from shops.admin_scoping import ReadOnlyScopedInline, ShopScopedAdmin
from shops.selectors import shops_for_user


class SlotInline(ReadOnlyScopedInline, admin.TabularInline):
    model = Slot
    readonly_fields = ["starts_at", "capacity", "taken", "left"]
    fields = readonly_fields

    def get_queryset(self, request):
        # One aggregate query for all rows instead of two per slot (seats_taken / seats_left each).
        return with_seats_taken(super().get_queryset(request))

    @admin.display(description=_("seats taken"))
    def taken(self, obj):
        return obj.seats_taken

    @admin.display(description=_("seats left"))
    def left(self, obj):
        return max(obj.capacity - obj.seats_taken, 0)


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


class HistoryInline(ReadOnlyScopedInline, admin.TabularInline):
    model = ReservationEvent
    readonly_fields = ["at", "actor_label", "message"]
    fields = readonly_fields
    verbose_name_plural = _("History")


@admin.register(Reservation)
class ReservationAdmin(ShopScopedAdmin):
    list_display = ["customer_name", "customer_email", "seats", "status", "event_title", "slot_starts_at", "shop",
                    "created_at"]
    list_filter = ["status", EventFilter]
    search_fields = ["customer_name", "customer_email"]
    list_select_related = ["slot__event", "shop"]
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
