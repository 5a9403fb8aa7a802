"""Admin actions approve / cancel / promote: a confirm page listing what will happen, then the services.

Like Django's delete confirmation, the confirm form posts back to the changelist with the same action and
selected ids (plus `confirmed`), so the queryset is rebuilt by ReservationAdmin.get_queryset and stays
scoped to the user's shops. Every change goes through reservations.services, which lock, check the
permission and the transition again: the confirm page is only a preview.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.actors import Actor
from payments.errors import PaymentError
from reservations import services
from reservations.models import HOLDING, Reservation, Slot, Status, WaitlistPromotion
from reservations.selectors import with_seats_taken
from shops.roles import Perm
from shops.selectors import shops_for_user, user_can

ACTION_NAMES = ("approve_selected", "cancel_selected", "promote_selected")


@dataclass(frozen=True)
class Preview:
    reservation: Reservation
    outcome: str
    possible: bool


def _promotion_target(reservation: Reservation) -> str:
    to_confirmed = reservation.slot.event.waitlist_promotion == WaitlistPromotion.TO_CONFIRMED
    return str((Status.CONFIRMED if to_confirmed else Status.PENDING_APPROVAL).label)


def _free_seats_by_slot(queryset) -> dict[int, int]:
    """Free seats of every slot the selection touches, in one query (not one per previewed reservation)."""
    slots = with_seats_taken(Slot.objects.filter(pk__in=queryset.values("slot_id")).order_by())
    return {slot.pk: max(slot.capacity - slot.seats_taken, 0) for slot in slots}


def _preview(operation: str, reservation: Reservation, user, free_seats: dict[int, int]) -> Preview:
    status = reservation.get_status_display()
    if not user_can(user, reservation.shop_id, Perm.APPROVE_RESERVATIONS):
        return Preview(reservation, _("Skipped: you may not manage reservations of this shop."), False)
    if operation == "approve":
        if reservation.status != Status.PENDING_APPROVAL:
            return Preview(reservation, _("Skipped: it is %(status)s.") % {"status": status}, False)
        return Preview(reservation, _("%(status)s → %(target)s") % {
            "status": status, "target": Status.CONFIRMED.label}, True)
    if operation == "cancel":
        if reservation.status == Status.CANCELLED:
            return Preview(reservation, _("Skipped: it is already cancelled."), False)
        outcome = _("%(status)s → %(target)s") % {"status": status, "target": Status.CANCELLED.label}
        if reservation.status in HOLDING:
            outcome += " " + _("(frees %(seats)s seats; the waitlist is promoted in order where they fit)") % {
                "seats": reservation.seats}
        return Preview(reservation, outcome, True)
    if reservation.status != Status.WAITLISTED:
        return Preview(reservation, _("Skipped: it is %(status)s.") % {"status": status}, False)
    left = free_seats[reservation.slot_id]
    if reservation.seats > left:
        return Preview(reservation, _("Skipped: only %(left)s seats are free.") % {"left": left}, False)
    return Preview(reservation, _("%(status)s → %(target)s") % {
        "status": status, "target": _promotion_target(reservation)}, True)


def _run(operation: str, reservation: Reservation, actor: Actor, reason: str) -> str:
    if operation == "approve":
        services.approve(reservation, actor)
        return _("%(who)s approved.") % {"who": reservation.customer_name}
    if operation == "cancel":
        promoted = services.cancel(reservation, actor, reason)
        done = _("%(who)s cancelled.") % {"who": reservation.customer_name}
        if promoted:
            done += " " + _("Promoted from the waitlist: %(names)s.") % {
                "names": ", ".join(r.customer_name for r in promoted)}
        return done
    services.promote(reservation, actor)
    return _("%(who)s promoted from the waitlist.") % {"who": reservation.customer_name}


def _confirm_then_run(operation: str, title: str, modeladmin, request, queryset):
    queryset = queryset.select_related("slot__event", "shop").order_by("created_at", "id")
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
        try:
            modeladmin.message_user(request, _run(operation, reservation, actor, reason), messages.SUCCESS)
        except PaymentError as error:
            # One refusal (changed meanwhile, not permitted, no seats) does not stop the others.
            modeladmin.message_user(request, f"{reservation.customer_name}: {error.message}", messages.ERROR)
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
