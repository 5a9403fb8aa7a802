"""The order page's payment panel: the operations of the order's payment (with the rule when refused),
editing the order (an unsent amount change for a wallet), shipping, goods returned and change of payment
method. Every write goes through a service; this module only reads forms and shows results.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from orders import cancellation, editing, method_change, shipping
from orders.models import Order
from payments import wallet_rules
from payments.actors import Actor
from payments.admin_operations import operation_menu
from payments.errors import InvalidAmount, PaymentError
from payments.models import Method
from payments.wallet_facts import facts_for
from payments.wallet_rules import WalletOperation
from shops.roles import Perm
from shops.selectors import user_can


class ShipForm(forms.Form):
    carrier = forms.CharField(label=gettext_lazy("Carrier"), max_length=60, required=False)
    slip_number = forms.CharField(label=gettext_lazy("Shipping slip number"), max_length=40)


class MethodForm(forms.Form):
    method = forms.ChoiceField(label=gettext_lazy("New payment method"),
                               choices=[(m, Method(m).label) for m in method_change.NEW_METHODS])


class OrderPaymentPanelMixin:
    """Mixed into OrderAdmin (before ShopScopedAdmin)."""

    change_form_template = "admin/orders/order/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/edit/", view(self.edit_order_view), name="orders_order_edit"),
            path("<int:pk>/ship/", view(self.ship_view), name="orders_order_ship"),
            path("<int:pk>/returned/", view(self.returned_view), name="orders_order_returned"),
            path("<int:pk>/change-method/", view(self.change_method_view), name="orders_order_change_method"),
            path("<int:pk>/cancel-order/", view(self.cancel_order_view), name="orders_order_cancel_order"),
            *super().get_urls(),
        ]

    def _order(self, request, pk) -> Order:
        order = self.get_queryset(request).select_related("payment__shop").filter(pk=pk).first()
        if order is None:
            raise Http404
        return order

    def _order_url(self, order) -> str:
        return reverse("admin:orders_order_change", args=[order.pk])

    def _order_page(self, request, template: str, order, title: str, **extra) -> TemplateResponse:
        """One of the order's own pages (edit, cancel, change method): the admin context and the way back."""
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "order": order,
                   "payment": order.payment, "order_url": self._order_url(order), "title": title, **extra}
        return TemplateResponse(request, f"admin/orders/order/{template}.html", context)

    def get_object(self, request, object_id, from_field=None):
        # The change page's order comes with its payment and shop (the panel reads both): one query, not
        # a second load of the same order.
        if from_field is None and str(object_id).isdigit():
            return self._order(request, object_id)
        return super().get_object(request, object_id, from_field)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        payment = obj.payment if obj is not None else None
        if payment is not None:
            context["payment_panel"] = {
                "payment": payment,
                "menu": operation_menu(request.user, payment),
                "order_url": self._order_url(obj),
                "can_edit": payment.is_wallet and user_can(request.user, obj.shop_id, Perm.CHANGE_AMOUNT),
                "can_ship": user_can(request.user, obj.shop_id, Perm.CAPTURE),
                "can_cancel": user_can(request.user, obj.shop_id, Perm.CANCEL),
                "ship_form": ShipForm(),
                "method_form": MethodForm(),
                "in_cart": payment.orders.count() > 1,
                **self._wallet_extras(payment),
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _wallet_extras(payment) -> dict:
        if not payment.is_wallet:
            return {}
        facts = facts_for(payment, timezone.now())
        change = wallet_rules.availability(WalletOperation.CHANGE_PAYMENT_METHOD, facts)
        edit = wallet_rules.availability(WalletOperation.CHANGE_AMOUNT, facts)
        return {"method_change": change, "edit": edit, "facts": facts}

    # --- edit lines ----------------------------------------------------------------------------------

    def edit_order_view(self, request, pk):
        order = self._order(request, pk)
        if not user_can(request.user, order.shop_id, Perm.CHANGE_AMOUNT):
            raise PermissionDenied
        lines = list(order.lines.order_by("id"))
        error = ""
        if request.method == "POST":
            try:
                changes = [editing.LineChange(line.pk, self._int(request.POST, f"quantity-{line.pk}"),
                                              self._int(request.POST, f"unit_price-{line.pk}")) for line in lines]
                editing.edit_order(order, lines=changes, shipping_fee=self._int(request.POST, "shipping_fee"),
                                   fees=self._int(request.POST, "fees"), by=Actor.for_user(request.user),
                                   payment_version=self._int(request.POST, "version"))
            except PaymentError as exc:
                error = exc.message
            else:
                order.payment.refresh_from_db()
                if order.payment.pending_amount is not None:
                    messages.warning(request, _(
                        "The order was edited. The new amount ¥%(amount)s is not yet sent to the PG: send it "
                        "before capturing.") % {"amount": f"{order.payment.pending_amount:,}"})
                else:
                    messages.success(request, _("The order was edited; the PG already holds this amount."))
                return HttpResponseRedirect(self._order_url(order))
        return self._order_page(request, "edit_order", order, _("Edit order"), lines=lines, error=error)

    @staticmethod
    def _int(data, name: str) -> int:
        raw = (data.get(name) or "").strip().replace(",", "")
        if not raw.isdigit():
            raise InvalidAmount(_("Enter whole numbers of yen (and quantities) in every field."))
        return int(raw)

    # --- shipping ------------------------------------------------------------------------------------

    def ship_view(self, request, pk):
        order = self._order(request, pk)
        if request.method == "POST":
            form = ShipForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Enter the shipping slip number."))
            else:
                try:
                    shipping.mark_shipped(order, carrier=form.cleaned_data["carrier"],
                                          slip_number=form.cleaned_data["slip_number"],
                                          by=Actor.for_user(request.user))
                except PaymentError as exc:
                    messages.error(request, exc.message)
                else:
                    messages.success(request, _("Marked shipped."))
        return HttpResponseRedirect(self._order_url(order))

    def returned_view(self, request, pk):
        order = self._order(request, pk)
        if request.method == "POST":
            try:
                shipping.mark_returned(order, by=Actor.for_user(request.user))
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("The goods are recorded as returned to the shop."))
        return HttpResponseRedirect(self._order_url(order))

    # --- one order of a cart ------------------------------------------------------------------------

    def cancel_order_view(self, request, pk):
        order = self._order(request, pk)
        if not user_can(request.user, order.shop_id, Perm.CANCEL):
            raise PermissionDenied
        by = Actor.for_user(request.user)
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            try:
                order.payment.version = self._int(request.POST, "version")
                op = cancellation.cancel_order(order, by=by)
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Done: %(what)s") % {"what": op.explanation})
            return HttpResponseRedirect(self._order_url(order))
        try:
            plan, error = cancellation.preview_cancel_order(order, by=by), ""
        except PaymentError as exc:
            plan, error = None, exc.message
        order.payment.refresh_from_db()
        return self._order_page(request, "cancel_order", order, _("Cancel this order"), plan=plan, error=error)

    # --- change of payment method --------------------------------------------------------------------

    def change_method_view(self, request, pk):
        order = self._order(request, pk)
        if not user_can(request.user, order.shop_id, Perm.CANCEL):
            raise PermissionDenied
        form = MethodForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and request.POST.get("confirmed") == "1":
            try:
                new = method_change.change_payment_method(order, method=form.cleaned_data["method"],
                                                          by=Actor.for_user(request.user))
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("The payment method was changed to %(method)s. The customer must pay "
                                            "again (new payment %(id)s).")
                                 % {"method": new.get_method_display(), "id": new.gateway_order_id})
            return HttpResponseRedirect(self._order_url(order))
        return self._order_page(request, "change_method", order, _("Change payment method"), form=form)
