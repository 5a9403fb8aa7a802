"""The customer's links: an event's booking page, the completion page and the payment request page (単発決済).

Signed, so a page cannot be reached by counting primary keys; deterministic and without expiry (the page
shows what the reservation's status allows). A bad or tampered token, or one that points at nothing, is a
plain 404 (nothing to probe).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse

from payments.models import Method, Payment
from payments_admin import signed_links
from reservations.models import ReservableEvent, Reservation


def sign(salt: str, pk: int) -> str:
    return signed_links.sign(f"reservations.{salt}", pk)


def unsign(salt: str, token: str) -> int:
    """The id a link points at."""
    return signed_links.unsign(f"reservations.{salt}", token)


absolute = signed_links.absolute


def event_path(event) -> str:
    return reverse("reserve:event", kwargs={"token": sign("event", event.pk)})


def event_url(event) -> str:
    return absolute(event_path(event))


def completion_path(reservation) -> str:
    return reverse("reserve:done", kwargs={"token": sign("done", reservation.pk)})


def payment_request_path(payment) -> str:
    return reverse("reserve:pay", kwargs={"token": sign("pay", payment.pk)})


def event_for(token: str) -> ReservableEvent:
    return get_object_or_404(ReservableEvent.objects.select_related("shop"), pk=unsign("event", token))


def reservation_for(token: str) -> Reservation:
    return get_object_or_404(Reservation.objects.select_related("shop", "slot__event", "payment"),
                             pk=unsign("done", token))


def payment_for(token: str) -> Payment:
    # Only a konbini payment has a request page; any other id behind a valid signature is still "no such page".
    return get_object_or_404(Payment.objects.select_related("shop"), pk=unsign("pay", token), method=Method.KONBINI)
