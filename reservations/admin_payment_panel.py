"""The reservation page: its payment next to it, and one confirm page per operation that states the money
effect before anything happens (SPEC 6; seed 001's two decisions after 決済エラー: cancel, or 単発決済).

The confirm page carries what the operator saw (reservation status, payment and its version): if either
moved meanwhile nothing runs and the page is shown again with the effect as it is now.
"""

from __future__ import annotations

import re
import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from payments.actors import Actor
from reservations import admin_effects
from reservations.admin_run import run
from reservations.customer_context import numbers_context
from reservations.models import Reservation
from reservations.selectors import EXPIRED, NOT_ISSUED, attention_of, replaced_payments

KEY_RE = re.compile(r"^[0-9a-f]{32}$")


def attention_text(kind: str | None) -> str:
    if kind == EXPIRED:
        return _("The konbini payment expired (決済エラー) but the reservation is still confirmed: cancel it, or "
                 "send a one-off payment request.")
    if kind == NOT_ISSUED:
        return _("The reservation is confirmed but its konbini payment numbers were not issued (Stripe could "
                 "not be reached); the konbini poll tries again, or issue them now.")
    return ""


def seen_state(reservation: Reservation) -> str:
    """What the confirm page showed; compared again when it is posted."""
    payment = reservation.payment
    if payment is None:
        return f"{reservation.status}:-"
    return f"{reservation.status}:{payment.pk}:{payment.status}:{payment.version}"


class ReservationPaymentPanelMixin:
    """Mixed into ReservationAdmin (before ShopScopedAdmin)."""

    change_form_template = "admin/reservations/reservation/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/operate/<str:operation>/", view(self.operate_view),
                 name="reservations_reservation_operate"),
            *super().get_urls(),
        ]

    def _reservation(self, request, pk) -> Reservation:
        # Scoped to the user's shops: another shop's reservation and an unknown id are the same 404.
        if not str(pk).isdigit():
            raise Http404
        found = (self.get_queryset(request).select_related("slot__event", "shop", "payment__shop")
                 .filter(pk=pk).first())
        if found is None:
            raise Http404
        return found

    @staticmethod
    def _detail_url(reservation) -> str:
        return reverse("admin:reservations_reservation_change", args=[reservation.pk])

    def get_object(self, request, object_id, from_field=None):
        # The change page reads the row once, with what the panel and the read-only fields show.
        if from_field is not None:
            return super().get_object(request, object_id, from_field)
        return self._reservation(request, object_id)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["panel"] = self._panel(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _panel(request, reservation: Reservation) -> dict:
        payment = reservation.payment
        return {
            "payment": payment,
            **numbers_context(payment),
            "replaced": replaced_payments(payment),
            "attention": attention_text(attention_of(reservation)),
            "may_manage": admin_effects.may_manage(request.user, reservation),
            "menu": admin_effects.menu(reservation, request.user),
        }

    def operate_view(self, request, pk, operation):
        if operation not in admin_effects.OPERATIONS:
            raise Http404
        reservation = self._reservation(request, pk)
        if not admin_effects.may_manage(request.user, reservation):
            raise PermissionDenied
        effect = admin_effects.effect(operation, reservation, request.user)
        operate_url = reverse("admin:reservations_reservation_operate", args=[reservation.pk, operation])
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            if request.POST.get("seen") != seen_state(reservation):
                messages.error(request, _("This reservation or its payment changed meanwhile; nothing was done. "
                                          "Check what the operation does now."))
                return HttpResponseRedirect(operate_url)
            if not effect.allowed:
                messages.error(request, effect.reason)
            else:
                key = request.POST.get("key", "")
                level, text = run(operation, reservation, Actor.for_user(request.user),
                                  reason=request.POST.get("reason", "").strip()[:500],
                                  idempotency_key=f"reservation-{operation}:{reservation.pk}:{key}"
                                  if KEY_RE.match(key) else None)
                messages.add_message(request, level, text)
            return HttpResponseRedirect(self._detail_url(reservation))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "reservation": reservation,
            "payment": reservation.payment, "effect": effect, "operation": operation,
            "seen": seen_state(reservation), "key": uuid.uuid4().hex, "detail_url": self._detail_url(reservation),
            "title": _("Confirm: %(op)s") % {"op": effect.label},
        }
        return TemplateResponse(request, "admin/reservations/reservation/confirm_operation.html", context)
