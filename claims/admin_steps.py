"""The claim steps behind a confirm page (claim page and order page alike): a form, then a page stating the
money effect (from claims.services.cancel_effect) with a one-time key, then the service, then the claim page
with the result. Every write goes through claims.services, which checks the permission and state again.

The one-time key: the confirm page carries a fresh key; a second submit of the same key (a double click,
the back button) does not run the step again but shows the result of the first (the key is also passed to
the services that take an idempotency key).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from claims import admin_forms, services
from claims.models import Claim, ClaimKind, ClaimState, Party
from payments.actors import Actor
from payments.errors import PaymentError
from payments.formatting import yen

ONCE_SESSION_KEY = "claims_once_done"
ONCE_REMEMBERED = 50


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    form_class: type
    offered: Callable  # (target) -> bool: offered on the page now
    effect: Callable  # (target, data) -> str: the confirm page's statement
    run: Callable  # (target, data, by, once) -> Claim


def _money(order, reason, requested_by) -> str:
    return services.cancel_effect(order, reason=reason, requested_by=requested_by).text


def _no_money(text: str) -> Callable:
    return lambda target, data: text


def _is_open_cancel_request(claim: Claim, *states) -> bool:
    return (claim.kind == ClaimKind.CANCEL and claim.requested_by == Party.CUSTOMER
            and claim.state in (states or (ClaimState.REQUESTED, ClaimState.WITHDRAWAL_REQUESTED)))


def _ask_effect(claim, data) -> str:
    when = date_format(timezone.localtime(data["deadline"]), "DATETIME_FORMAT")
    return _("No money moves now. The customer is asked to withdraw the cancel request by %(when)s and reads "
             "your memo; until then the order stays as it is. If the deadline passes the request is listed as "
             "“Withdrawal pending (deadline passed)”.") % {"when": when}


def _return_effect(claim, data) -> str:
    if claim.kind == ClaimKind.EXCHANGE:
        return _("No money moves: the exchange is recorded as complete.")
    return _money(claim.order, claim.reason, claim.requested_by)


CLAIM_STEPS = {step.key: step for step in [
    Step("approve", gettext_lazy("Approve the cancel request"), admin_forms.ApproveForm,
         offered=_is_open_cancel_request,
         effect=lambda claim, data: _money(claim.order, claim.reason, claim.requested_by),
         run=lambda claim, data, by, once: services.approve_cancel_request(
             claim, by=by, seller_memo=data["seller_memo"])),
    Step("ask_withdrawal", gettext_lazy("Ask the customer to withdraw the request"),
         admin_forms.AskWithdrawalForm,
         offered=lambda claim: _is_open_cancel_request(claim, ClaimState.REQUESTED),
         effect=_ask_effect,
         run=lambda claim, data, by, once: services.ask_withdrawal(
             claim, deadline=data["deadline"], seller_memo=data["seller_memo"], by=by)),
    Step("refuse", gettext_lazy("Refuse the cancel request"), admin_forms.RefuseForm,
         offered=_is_open_cancel_request,
         effect=_no_money(gettext_lazy("No money moves: the order is not cancelled. The claim becomes “Refused” "
                                       "and the customer reads your memo.")),
         run=lambda claim, data, by, once: services.refuse_cancel_request(
             claim, seller_memo=data["seller_memo"], by=by)),
    Step("confirm_return", gettext_lazy("Return received / full refund"), admin_forms.ConfirmReturnForm,
         offered=lambda claim: (claim.kind in (ClaimKind.RETURN, ClaimKind.EXCHANGE)
                                and claim.state in (ClaimState.REQUESTED, ClaimState.IN_PROGRESS)),
         effect=_return_effect,
         run=lambda claim, data, by, once: services.confirm_return(
             claim, item_received=data["item_received"], refund_approved=data["refund_approved"], by=by,
             idempotency_key=once)),
]}

ORDER_STEPS = {step.key: step for step in [
    Step("seller_cancel", gettext_lazy("Cancel the order (seller)"), admin_forms.SellerCancelForm,
         offered=lambda order: order.delivery_status in services_delivery("NEW", "PREPARING", "DELAYED"),
         effect=lambda order, data: _money(order, data["reason"], Party.SELLER),
         run=lambda order, data, by, once: services.seller_cancel(
             order, reason=data["reason"], seller_memo=data["seller_memo"], internal_memo=data["internal_memo"],
             by=by, idempotency_key=once)),
    Step("open_return", gettext_lazy("Open a return or exchange"), admin_forms.OpenReturnForm,
         offered=lambda order: order.delivery_status in services_delivery("SHIPPING", "DELIVERED"),
         effect=_no_money(gettext_lazy("No money moves yet: a claim is opened. The refund (for a return) happens "
                                       "at “Return received / full refund”, after both confirmations.")),
         run=lambda order, data, by, once: services.open_return(
             order, kind=data["kind"], reason=data["reason"], seller_memo=data["seller_memo"],
             internal_memo=data["internal_memo"], by=by)),
]}


def services_delivery(*names: str) -> tuple[str, ...]:
    from orders.models import Delivery

    return tuple(Delivery[name] for name in names)


def claim_url(claim: Claim) -> str:
    return reverse("admin:claims_claim_change", args=[claim.pk])


def result_message(claim: Claim) -> str:
    text = _("Done: the claim is “%(state)s”.") % {"state": claim.get_state_display()}
    if claim.refund_amount:
        text += " " + _("Refund %(amount)s: %(refund)s%(how)s.") % {
            "amount": yen(claim.refund_amount), "refund": claim.get_refund_state_display(),
            "how": _(" (at the gateway)") if claim.refund_linked else _(" (manual refund task)")}
    return text


def _done_before(request, once: str) -> str | None:
    return request.session.get(ONCE_SESSION_KEY, {}).get(once) if once else None


def _remember(request, once: str, url: str) -> None:
    done = dict(request.session.get(ONCE_SESSION_KEY, {}))
    done[once] = url
    request.session[ONCE_SESSION_KEY] = dict(list(done.items())[-ONCE_REMEMBERED:])


def step_page(admin, request, step: Step, target, *, back_url: str, heading: str) -> TemplateResponse:
    """The form, its confirm page, or (after the service ran) a redirect to the claim page with the result."""
    once = request.POST.get("once", "")
    done_url = _done_before(request, once)
    if done_url:
        messages.info(request, _("This was already done (the button was pressed twice); nothing was repeated."))
        return HttpResponseRedirect(done_url)
    form = step.form_class(request.POST or None)
    stage, effect, error = "form", "", ""
    if not step.offered(target):
        error = _("“%(step)s” is not possible now.") % {"step": step.label}
    elif request.method == "POST" and form.is_valid():
        try:
            effect = step.effect(target, form.cleaned_data)
            if request.POST.get("confirmed") == "1" and once:
                claim = step.run(target, form.cleaned_data, Actor.for_user(request.user), f"claims-admin:{once}")
                url = claim_url(claim)
                _remember(request, once, url)
                claim.refresh_from_db()
                messages.success(request, result_message(claim))
                return HttpResponseRedirect(url)
            stage, once = "confirm", uuid.uuid4().hex
        except PaymentError as exc:
            error, stage = exc.message, "form"  # nothing changed: the form again, with the reason
    context = {**admin.admin_site.each_context(request), "opts": admin.model._meta, "step": step, "form": form,
               "stage": stage, "effect": effect, "error": error, "once": once, "back_url": back_url,
               "heading": heading, "title": _("Confirm: %(step)s") % {"step": step.label} if stage == "confirm"
               else step.label}
    return TemplateResponse(request, "admin/claims/step.html", context)
