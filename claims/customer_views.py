"""The customer's order page for cancels and cancel requests (SPEC 4.4). No login: the page is reached
through a signed per-order link (claims.customer_links).

The page only calls the claim services (customer_cancel, withdraw_request). A POST that worked redirects
(POST/redirect/GET), so a reload never sends a second request; a refused one shows the service's message
and changes nothing.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from claims import services
from claims.customer_context import cancel_option, open_claim, order_context
from claims.customer_forms import CancelForm
from claims.customer_links import order_for, order_path
from claims.models import ClaimState
from payments.actors import Actor
from payments.errors import PaymentError
from payments_admin.rate_limits import customer_rate_limit

TEMPLATE = "claims/customer/order.html"


def _actor(order) -> Actor:
    # The customer on their own order: may cancel and withdraw in this shop only.
    return services.customer_actor(order)


def _refused(request: HttpRequest, order, exc: PaymentError) -> HttpResponse:
    order.refresh_from_db()
    return render(request, TEMPLATE, {**order_context(order, error=exc.message), "form": CancelForm()},
                  status=exc.http_status)


@never_cache
@customer_rate_limit("claims")
@require_GET
def order_page(request: HttpRequest, token: str) -> HttpResponse:
    order = order_for(token)
    return render(request, TEMPLATE, {**order_context(order), "form": CancelForm()})


@never_cache
@customer_rate_limit("claims")
@require_POST
def cancel_order(request: HttpRequest, token: str) -> HttpResponse:
    order = order_for(token)
    if cancel_option(order, open_claim(order)) is None:
        return redirect(order_path(order))  # a second click, or it moved on: show what is now
    form = CancelForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, {**order_context(order), "form": form}, status=400)
    try:
        services.customer_cancel(order, by=_actor(order), note=form.cleaned_data["note"])
    except PaymentError as exc:
        return _refused(request, order, exc)
    return redirect(order_path(order))


@never_cache
@customer_rate_limit("claims")
@require_POST
def withdraw_request(request: HttpRequest, token: str) -> HttpResponse:
    order = order_for(token)
    # The claim is the order's own open one, never an id from the form: a link cannot reach another claim.
    claim = open_claim(order)
    if claim is None or claim.state != ClaimState.WITHDRAWAL_REQUESTED:
        return redirect(order_path(order))
    try:
        services.withdraw_request(claim, by=_actor(order))
    except PaymentError as exc:
        return _refused(request, order, exc)
    return redirect(order_path(order))
