"""Admin actions approve / cancel / promote: a confirm page listing what will happen to each reservation and
its money (reservations.admin_effects), then reservations.payment_flow (reservations.admin_run).

Like Django's delete confirmation, the confirm form posts back to the changelist with the same action and
selected ids (plus `confirmed`), so the queryset is rebuilt by ReservationAdmin.get_queryset and stays
scoped to the user's shops. payment_flow locks, checks the permission and the transition again and does
the payment's side (numbers issued, PaymentIntent cancelled, refund): the confirm page is only a preview.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.actors import Actor
from reservations.admin_effects import effect
from reservations.admin_run import run
from reservations.models import Reservation, Slot
from reservations.selectors import with_seats
from shops.roles import Perm
from shops.selectors import shops_for_user, user_can

ACTION_NAMES = ("approve_selected", "cancel_selected", "promote_selected")


@dataclass(frozen=True)
class Preview:
    reservation: Reservation
    outcome: str
    possible: bool
    money: str = ""


def _free_seats_by_slot(queryset) -> dict[int, int]:
    """Free seats of every slot the selection touches, in one query (not one per previewed reservation)."""
    slots = with_seats(Slot.objects.filter(pk__in=queryset.values("slot_id")).order_by())
    return {slot.pk: slot.seats_left for slot in slots}


def _preview(operation: str, reservation: Reservation, user, free_seats: dict[int, int]) -> Preview:
    found = effect(operation, reservation, user, free_seats=free_seats.get(reservation.slot_id))
    if not found.allowed:
        return Preview(reservation, _("Skipped: %(reason)s") % {"reason": found.reason}, False)
    return Preview(reservation, found.outcome, True, found.money)


def _confirm_then_run(operation: str, title: str, modeladmin, request, queryset):
    queryset = queryset.select_related("slot__event", "shop", "payment__shop").order_by("created_at", "id")
    if not request.POST.get("confirmed"):
        free_seats = _free_seats_by_slot(queryset) if operation == "promote" else {}
        context = {
            **modeladmin.admin_site.each_context(request),
            "opts": modeladmin.model._meta, "title": title, "operation": operation,
            "action_name": f"{operation}_selected",
            "previews": [_preview(operation, r, request.user, free_seats) for r in queryset],
            "selected_ids": request.POST.getlist(ACTION_CHECKBOX_NAME),
            # "All N selected" travels as select_across; the changelist URL keeps the filters.
            "select_across": request.POST.get("select_across", "0"),
            "changelist_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/reservations/reservation/confirm_action.html", context)
    actor = Actor.for_user(request.user)
    reason = request.POST.get("reason", "").strip()
    for reservation in queryset:
        # One refusal (changed meanwhile, not permitted, no seats) does not stop the others.
        level, text = run(operation, reservation, actor, reason=reason)
        modeladmin.message_user(request, text, level)
    return None  # back to the changelist, messages shown there


@admin.action(description=gettext_lazy("Approve the selected reservations"))
def approve_selected(modeladmin, request, queryset):
    return _confirm_then_run("approve", _("Confirm: approve reservations"), modeladmin, request, queryset)


@admin.action(description=gettext_lazy("Cancel the selected reservations"))
def cancel_selected(modeladmin, request, queryset):
    return _confirm_then_run("cancel", _("Confirm: cancel reservations"), modeladmin, request, queryset)


@admin.action(description=gettext_lazy("Promote the selected reservations from the waitlist"))
def promote_selected(modeladmin, request, queryset):
    return _confirm_then_run("promote", _("Confirm: promote from the waitlist"), modeladmin, request, queryset)


def hide_unpermitted(request, actions: dict) -> dict:
    """Offer the actions only to users who may manage reservations in at least one of their shops."""
    shop_ids = shops_for_user(request.user).values_list("pk", flat=True)
    if not any(user_can(request.user, shop_id, Perm.APPROVE_RESERVATIONS) for shop_id in shop_ids):
        for name in ACTION_NAMES:
            actions.pop(name, None)
    return actions
