"""The customer's reservation pages: book an event, the completion page, and the payment request page
(単発決済). No login: each page is reached through a signed link (reservations.customer_links).

The pages only call services (payment_flow.book, payment_requests.issue_requested_numbers) and show our
own status; a POST that worked redirects (POST/redirect/GET), so a reload never books or issues again.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from payments.actors import Actor
from payments.errors import ChangedMeanwhile, InvalidTransition, PaymentBusy, PaymentError
from payments_admin.rate_limits import customer_rate_limit
from reservations import payment_flow
from reservations.customer_context import (
    PaymentStage,
    booking_message,
    done_context,
    pay_context,
    pay_stage,
    payment_message,
    payment_stage,
)
from reservations.customer_forms import BookingForm, methods_for, open_slots
from reservations.customer_links import (
    completion_path,
    event_for,
    payment_for,
    payment_request_path,
    reservation_for,
)
from reservations.models import PaymentMethod
from reservations.payment_requests import issue_requested_numbers
from reservations.selectors import reservation_of_payment


def _slot_rows(event, form: BookingForm) -> list[dict]:
    chosen = str(form["slot"].value() or "")
    rows = []
    for slot in form.slots.values():
        left = slot.seats_left
        rows.append({"slot": slot, "left": left, "selectable": bool(left) or event.waitlist_enabled,
                     "checked": chosen == str(slot.pk)})
    return rows


def _render_event(request: HttpRequest, event, data=None, *, error: str = "", status: int = 200) -> HttpResponse:
    # Slots read afresh for every render: after a refusal the seats left are the current ones.
    form = BookingForm(event, open_slots(event), data=data)
    if data is not None:
        form.is_valid()
    methods = methods_for(event)
    return render(request, "reserve/event.html", {
        "event": event, "shop": event.shop, "form": form, "slots": _slot_rows(event, form), "error": error,
        "request_key": (data or {}).get("request_key") or uuid.uuid4().hex,
        "methods": methods, "method": form["payment_method"].value(),
        "konbini": any(value == PaymentMethod.KONBINI for value, _label in methods)}, status=status)


@never_cache
@customer_rate_limit("reserve")
@require_http_methods(["GET", "POST"])
def event_page(request: HttpRequest, token: str) -> HttpResponse:
    event = event_for(token)
    if request.method == "GET":
        return _render_event(request, event)
    form = BookingForm(event, open_slots(event), data=request.POST)
    if not form.is_valid():
        return _render_event(request, event, request.POST, status=400)
    data = form.cleaned_data
    slot = form.chosen_slot()
    try:
        reservation = payment_flow.book(slot, name=data["name"], email=data["email"], seats=data["seats"],
                                        by=Actor.system("customer booking"), payment_method=data["payment_method"],
                                        request_key=data.get("request_key") or None)
    except PaymentError as exc:  # refused before anything was written (reservations.services.book)
        return _render_event(request, event, request.POST, error=booking_message(exc, slot, data["seats"]),
                             status=exc.http_status)
    return redirect(completion_path(reservation))


@never_cache
@customer_rate_limit("reserve")
@require_GET
def done_page(request: HttpRequest, token: str) -> HttpResponse:
    return render(request, "reserve/done.html", done_context(reservation_for(token)))


@never_cache
@customer_rate_limit("reserve")
@require_http_methods(["GET", "POST"])
def pay_page(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_for(token)
    reservation = reservation_of_payment(payment)
    if reservation is None:
        raise Http404("no such page")
    if request.method == "GET":
        return render(request, "reserve/pay.html", pay_context(reservation, payment))
    if pay_stage(reservation, payment) != PaymentStage.REQUEST:
        return redirect(payment_request_path(payment))  # a second click, or it moved on: show what is now
    try:
        issue_requested_numbers(payment, by=Actor.system("customer payment request"))
    except PaymentError as exc:
        payment.refresh_from_db()
        if isinstance(exc, InvalidTransition | PaymentBusy | ChangedMeanwhile) \
                and payment_stage(payment) != PaymentStage.REQUEST:
            # A double click racing the first: that one issues (or issued) the numbers, which the page shows.
            return redirect(payment_request_path(payment))
        return render(request, "reserve/pay.html", pay_context(reservation, payment, error=payment_message(exc)),
                      status=exc.http_status)
    return redirect(payment_request_path(payment))
