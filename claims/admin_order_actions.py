"""The order page's claim panel: delivery status (ship date / delayed), messages to the customer (a failed
send shown with "send again"), the seller's cancel and, after shipping, a return or exchange (both behind the
confirm page of claims.admin_steps). Mixed into OrderAdmin; every write goes through claims.services.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.urls import path
from django.utils.translation import gettext as _

from claims import admin_forms, services
from claims.admin_steps import ORDER_STEPS, services_delivery, step_page
from claims.models import OPEN_STATES, CustomerMessage, MessageStatus
from payments.actors import Actor
from payments.errors import PaymentError
from shops.roles import Perm
from shops.selectors import user_can


class OrderClaimActionsMixin:
    """Mixed into OrderAdmin (before ShopScopedAdmin); expects `_order(request, pk)` and `_order_url(order)`."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/delivery/<str:what>/", view(self.delivery_view), name="orders_order_delivery"),
            path("<int:pk>/message/", view(self.message_view), name="orders_order_message"),
            path("<int:pk>/message/<int:message_pk>/resend/", view(self.resend_view),
                 name="orders_order_message_resend"),
            path("<int:pk>/claim/<str:step>/", view(self.claim_step_view), name="orders_order_claim_step"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["claim_panel"] = self._claim_panel(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _claim_panel(self, request, order) -> dict:
        may_cancel = user_can(request.user, order.shop_id, Perm.CANCEL)
        may_ship = user_can(request.user, order.shop_id, Perm.CAPTURE)
        return {
            "may_ship": may_ship,
            "may_message": may_cancel or may_ship,
            "can_set_ship_date": may_ship and order.delivery_status in services_delivery("NEW", "DELAYED",
                                                                                         "PREPARING"),
            "can_mark_delayed": may_ship and order.delivery_status in services_delivery("NEW", "PREPARING"),
            "ship_date_form": admin_forms.ShipDateForm(initial={"ship_date": order.ship_date}),
            "message_form": admin_forms.MessageForm(),
            "messages": list(order.customer_messages.order_by("-created_at", "-id")),
            "claims": list(order.claims.order_by("-created_at", "-id")),
            "steps": [step for step in ORDER_STEPS.values() if may_cancel and step.offered(order)],
            "has_open_claim": order.claims.filter(state__in=OPEN_STATES).exists(),
        }

    def delivery_view(self, request, pk, what):
        order = self._order(request, pk)
        if not user_can(request.user, order.shop_id, Perm.CAPTURE):
            raise PermissionDenied
        if what not in ("ship_date", "delayed"):
            raise Http404
        if request.method == "POST":
            by = Actor.for_user(request.user)
            try:
                if what == "ship_date":
                    form = admin_forms.ShipDateForm(request.POST)
                    if not form.is_valid():
                        messages.error(request, _("Enter the planned ship date."))
                        return HttpResponseRedirect(self._order_url(order))
                    services.set_ship_date(order, form.cleaned_data["ship_date"], by=by)
                else:
                    services.mark_delayed(order, by=by)
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                order.refresh_from_db()
                messages.success(request, _("Delivery status: %(status)s.") % {
                    "status": order.get_delivery_status_display()})
        return HttpResponseRedirect(self._order_url(order))

    def _may_message(self, request, order) -> bool:
        return (user_can(request.user, order.shop_id, Perm.CANCEL)
                or user_can(request.user, order.shop_id, Perm.CAPTURE))

    def message_view(self, request, pk):
        order = self._order(request, pk)
        if not self._may_message(request, order):
            raise PermissionDenied
        if request.method == "POST":
            form = admin_forms.MessageForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Enter the category, the title and the message."))
            else:
                try:
                    sent = services.message_customer(order, by=Actor.for_user(request.user), **form.cleaned_data)
                except PaymentError as exc:
                    messages.error(request, exc.message)
                else:
                    self._tell_outcome(request, sent)
        return HttpResponseRedirect(self._order_url(order))

    def resend_view(self, request, pk, message_pk):
        order = self._order(request, pk)
        if not self._may_message(request, order):
            raise PermissionDenied
        message = CustomerMessage.objects.filter(order=order, pk=message_pk).first()
        if message is None:
            raise Http404
        if request.method == "POST":
            try:
                sent = services.resend_message(message, by=Actor.for_user(request.user))
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                self._tell_outcome(request, sent)
        return HttpResponseRedirect(self._order_url(order))

    @staticmethod
    def _tell_outcome(request, message: CustomerMessage) -> None:
        if message.status == MessageStatus.SENT:
            messages.success(request, _("The message was sent to the customer."))
        else:
            messages.error(request, _("The message could not be sent (%(error)s). It is listed on the order with "
                                      "“send again”.") % {"error": message.last_error or "—"})

    def claim_step_view(self, request, pk, step):
        if step not in ORDER_STEPS:
            raise Http404
        order = self._order(request, pk)
        if not user_can(request.user, order.shop_id, Perm.CANCEL):
            raise PermissionDenied
        return step_page(self, request, ORDER_STEPS[step], order, back_url=self._order_url(order),
                         heading=str(order))

