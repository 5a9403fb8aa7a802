"""The registration page's cancels (seed 000): a line's "change" (option-cancel dialog) and the whole payment's
"Change status", each: choose among the cancels offered → confirm page stating the money effect → result.

The confirm page carries the registration version the operator saw, and a one-time key: a change made
meanwhile is refused, a double click runs once.
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

from gateways.gmo.messages import describe
from payments import services as payment_services
from payments.actors import Actor
from payments.bank_transfer import mark_transfer_received
from payments.errors import GatewayDeclined, OutcomeUnknown, PaymentError
from payments.gateway_check import GatewayChangedElsewhere
from registrations.changes import RegistrationChange, line_button, offered_linkages
from registrations.models import Linkage, Registration, RegistrationStatus
from shops.roles import Perm
from shops.selectors import user_can

KEY_RE = re.compile(r"^[0-9a-f]{32}$")


def menu_for(user, registration: Registration) -> dict:
    """What the page offers this user: the whole-payment cancels and each line's button state."""
    def can(perm):
        return user_can(user, registration.shop_id, perm)

    lines = list(registration.lines.all())
    active = [line for line in lines if line.is_active]
    registered = registration.status == RegistrationStatus.REGISTERED
    linkages = offered_linkages(registration, can) if registered else []
    rows = []
    for line in lines:
        enabled, reason = line_button(line, active)
        if enabled and not linkages:
            enabled, reason = False, _("Your role in this shop does not allow cancelling.")
        rows.append({"line": line, "enabled": enabled, "reason": reason})
    return {"lines": rows, "linkages": [(value, Linkage(value).label) for value in linkages],
            "can_change_status": bool(linkages)}


class RegistrationCancelMixin:
    """Mixed into RegistrationAdmin (before ShopScopedAdmin)."""

    def cancel_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/change-status/", view(self.cancel_view), name="registrations_registration_change_status"),
            path("<int:pk>/lines/<int:line_pk>/cancel/", view(self.cancel_view),
                 name="registrations_registration_cancel_line"),
            path("<int:pk>/sync/", view(self.sync_view), name="registrations_registration_sync"),
            path("<int:pk>/mark-paid/", view(self.mark_paid_view), name="registrations_registration_mark_paid"),
        ]

    def _registration(self, request, pk) -> Registration:
        found = (self.get_queryset(request).select_related("event", "shop", "payment__shop")
                 .prefetch_related("lines").filter(pk=pk).first())
        if found is None:
            raise Http404
        return found

    @staticmethod
    def _detail_url(registration) -> str:
        return reverse("admin:registrations_registration_change", args=[registration.pk])

    def cancel_view(self, request, pk, line_pk=None):
        registration = self._registration(request, pk)
        if not user_can(request.user, registration.shop_id, Perm.CANCEL):
            raise PermissionDenied
        line = None
        if line_pk is not None:
            line = registration.lines.filter(pk=line_pk).first()
            if line is None:
                raise Http404
        by = Actor.for_user(request.user)
        linkage = request.POST.get("linkage") or None
        reason = request.POST.get("reason", "")
        change = RegistrationChange(registration, by=by, linkage=linkage, reason=reason)
        change.cancel_line(line.pk) if line is not None else change.cancel_all()
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            return self._commit(request, registration, change)
        offered = menu_for(request.user, registration)["linkages"]
        preview, error = None, ""
        if request.method == "POST":  # the choice was made: show its effect
            try:
                preview = change.preview()
            except PaymentError as exc:
                error = exc.message
        elif line is not None:
            enabled, why = line_button(line, [x for x in registration.lines.all() if x.is_active])
            error = "" if enabled else why
        title = (_("Cancel option menu: %(name)s") % {"name": line.name} if line is not None
                 else _("Change status of the whole payment"))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "registration": registration,
            "payment": registration.payment, "line": line, "offered": offered, "linkage": linkage or
            (offered[0][0] if offered else ""), "reason": reason, "preview": preview, "error": error,
            "version": registration.version, "key": uuid.uuid4().hex, "detail_url": self._detail_url(registration),
            "title": title,
        }
        return TemplateResponse(request, "admin/registrations/registration/cancel.html", context)

    def _commit(self, request, registration, change: RegistrationChange):
        try:
            seen = int(request.POST.get("version", ""))
        except ValueError:
            raise Http404 from None
        key = request.POST.get("key", "")
        idempotency_key = f"registration-change:{registration.pk}:{key}" if KEY_RE.match(key) else None
        try:
            preview = change.commit(seen_version=seen, idempotency_key=idempotency_key)
        except GatewayChangedElsewhere as exc:
            messages.error(request, exc.message)
            request.session[f"gateway_changed_{registration.pk}"] = True
        except GatewayDeclined as exc:
            codes = exc.gateway_code.split("|") if exc.gateway_code else []
            meaning = " / ".join(f"{c}: {describe(c, request.LANGUAGE_CODE)}" for c in codes)
            messages.error(request, _("The gateway refused; nothing was changed. %(meaning)s") % {"meaning": meaning})
        except OutcomeUnknown as exc:
            messages.warning(request, _("%(why)s The lines are cancelled once the status check confirms it.")
                             % {"why": exc.message})
        except PaymentError as exc:
            messages.error(request, exc.message)
        else:
            names = "、".join(line.name for line in preview.lines)
            messages.success(request, _("Cancelled: %(names)s. %(money)s") % {"names": names, "money": preview.money})
        return HttpResponseRedirect(self._detail_url(registration))

    def mark_paid_view(self, request, pk):
        """入金済にする: staff with the mark-paid permission book a bank transfer they saw arrive."""
        registration = self._registration(request, pk)
        payment = registration.payment
        if payment is None or not payment.is_bank_transfer:
            raise Http404
        if not user_can(request.user, registration.shop_id, Perm.MARK_PAID):
            raise PermissionDenied
        if request.method == "POST" and request.POST.get("confirmed") == "1":
            key = request.POST.get("key", "")
            try:
                payment.version = int(request.POST.get("version", ""))
                mark_transfer_received(payment, by=Actor.for_user(request.user),
                                       idempotency_key=f"mark-paid:{payment.pk}:{key}" if KEY_RE.match(key) else None)
            except ValueError:
                raise Http404 from None
            except PaymentError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, _("Marked paid: the transfer of ¥%(amount)s was received.")
                                 % {"amount": f"{payment.amount:,}"})
            return HttpResponseRedirect(self._detail_url(registration))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "registration": registration,
                   "payment": payment, "version": payment.version, "key": uuid.uuid4().hex,
                   "detail_url": self._detail_url(registration), "title": _("Mark paid")}
        return TemplateResponse(request, "admin/registrations/registration/mark_paid.html", context)

    def sync_view(self, request, pk):
        """The status check offered when GMO shows the transaction changed: take GMO's state."""
        registration = self._registration(request, pk)
        if request.method != "POST" or registration.payment is None:
            return HttpResponseRedirect(self._detail_url(registration))
        request.session.pop(f"gateway_changed_{registration.pk}", None)
        try:
            result = payment_services.sync_payment(registration.payment, actor=Actor.for_user(request.user))
        except PaymentError as exc:
            messages.error(request, exc.message)
        else:
            lines = result.resolved + result.corrections + result.discrepancies
            messages.info(request, _("Gateway status %(status)s: %(summary)s") % {
                "status": result.gateway_status, "summary": "; ".join(lines) if lines else _("no difference")})
        return HttpResponseRedirect(self._detail_url(registration))
