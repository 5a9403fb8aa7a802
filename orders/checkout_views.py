"""The buyer's side of a checkout: pay with Recruit easy pay (redirect wallet) or, after a change of
payment method, with a card through GMO's tokenizer page. Reached only through a signed link.

Every decision comes from our payment status, after asking the PG (sync_payment) where the buyer's
return is concerned; what the browser brings back in its query string is never read.
"""

from __future__ import annotations

import hashlib
import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders.checkout_context import (
    NOT_NOW,
    RESULT_PENDING,
    START_REFUSED,
    Stage,
    buyer_message,
    page_context,
    pay_again_methods,
    stage_of,
)
from orders.checkout_links import checkout_path, payment_for, wallet_return_url
from orders.method_change import change_payment_method
from payments.actors import Actor
from payments.errors import GatewayDeclined, GatewayUnavailable, InvalidTransition, PaymentError
from payments.models import Payment
from payments.services import authorize_payment, start_wallet_checkout, sync_payment
from payments_admin.rate_limits import customer_rate_limit

logger = logging.getLogger(__name__)


def _customer() -> Actor:
    return Actor.system("customer")


def _render(request: HttpRequest, payment: Payment, *, error: str = "", notice: str = "",
            status: int = 200) -> HttpResponse:
    return render(request, "checkout/page.html", page_context(payment, error=error, notice=notice),
                  status=status)


def _latest(payment: Payment) -> Payment:
    # After a change of payment method the old link still works: it leads to the payment that took over.
    while payment.replaced_by_id:
        payment = Payment.objects.select_related("shop").get(pk=payment.replaced_by_id)
    return payment


@never_cache
@customer_rate_limit("checkout")
@require_GET
def checkout_page(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_for(token)
    latest = _latest(payment)
    if latest.pk != payment.pk:
        return redirect(checkout_path(latest))
    return _render(request, payment)


@never_cache
@customer_rate_limit("checkout")
@require_POST
def start_wallet(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_for(token)
    if payment.replaced_by_id:
        return redirect(checkout_path(_latest(payment)))
    stage = stage_of(payment)
    if stage != Stage.START:
        # Checked before the service does, so a closed shop never gets an EntryTran at the PG.
        return _render(request, payment, error=START_REFUSED.get(stage, NOT_NOW), status=409)
    try:
        start_wallet_checkout(payment, ret_url=wallet_return_url(payment), by=_customer())
    except InvalidTransition:
        payment.refresh_from_db()  # started meanwhile (a double click), or the shop closed it meanwhile
        return _render(request, payment, error=START_REFUSED.get(stage_of(payment), NOT_NOW), status=409)
    except PaymentError as exc:
        payment.refresh_from_db()
        return _render(request, payment, error=buyer_message(exc), status=exc.http_status)
    return render(request, "checkout/redirect.html", {
        "payment": payment, "shop": payment.shop, "start_url": payment.checkout_url,
        "access_id": payment.access_id, "start_token": payment.checkout_token})


# The PG may bring the browser back with a POST from its own origin (reference §3.4 is unsure), so no CSRF
# check here: nothing posted is used, the view only asks the PG.
@never_cache
@customer_rate_limit("checkout")
@csrf_exempt
@require_http_methods(["GET", "POST"])
def wallet_return(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_for(token)
    if not payment.is_wallet:
        return redirect(checkout_path(payment))
    notice = ""
    try:
        sync_payment(payment, actor=Actor.system("buyer returned from the wallet"), buyer_returned=True)
    except (GatewayUnavailable, GatewayDeclined) as exc:
        # The result notification or the status-sync batch settles it; the buyer is not asked to act.
        logger.warning("checkout return: PG not reachable for payment %s: %s", payment.pk, exc.code)
        notice = RESULT_PENDING
    payment.refresh_from_db()
    latest = _latest(payment)
    if latest.pk != payment.pk:
        return redirect(checkout_path(latest))
    return _render(request, payment, notice=notice)


@never_cache
@customer_rate_limit("checkout")
@require_POST
def pay_again(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_for(token)
    if payment.replaced_by_id:  # a double click: the first click already changed the method
        return redirect(checkout_path(_latest(payment)))
    method = request.POST.get("method", "")
    order = payment.orders.order_by("pk").first()
    if method not in pay_again_methods(payment) or order is None:
        return _render(request, payment, error=NOT_NOW, status=409)
    try:
        new = change_payment_method(order, method=method, by=_customer())
    except PaymentError as exc:
        payment.refresh_from_db()
        return _render(request, payment, error=buyer_message(exc), status=exc.http_status)
    return redirect(checkout_path(new))


@never_cache
@customer_rate_limit("checkout")
@require_GET
def card_return(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_for(token)
    if payment.is_wallet or stage_of(payment) != Stage.CARD:
        return redirect(checkout_path(_latest(payment)))  # e.g. a reload after the authorization
    card_token = request.GET.get("token", "")
    # Keyed by the token: a double submit replays the first authorization instead of failing on it.
    key = f"checkout-card:{payment.pk}:{hashlib.sha256(card_token.encode()).hexdigest()}"
    try:
        authorize_payment(payment, token=card_token, by=_customer(), idempotency_key=key)
    except PaymentError as exc:
        payment.refresh_from_db()
        return _render(request, payment, error=buyer_message(exc, card=True), status=exc.http_status)
    # Redirect, so a reload does not carry the token again.
    return redirect(checkout_path(payment))
