"""The customer's links: an event's booking page, and the objects behind the signed tokens of all three pages.

Tokens are reservations.payment_links' signatures (deterministic, no expiry): a bad or tampered one, or one
that points at nothing, is a plain 404.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse

from payments.models import Method, Payment
from reservations.models import ReservableEvent, Reservation
from reservations.payment_links import absolute, sign, unsign


def event_path(event) -> str:
    return reverse("reserve:event", kwargs={"token": sign("event", event.pk)})


def event_url(event) -> str:
    """For the shop to publish (its site, a mail): from PUBLIC_BASE_URL, never the request's Host."""
    return absolute(event_path(event))


def event_for(token: str) -> ReservableEvent:
    return get_object_or_404(ReservableEvent.objects.select_related("shop"), pk=unsign("event", token))


def reservation_for(token: str) -> Reservation:
    return get_object_or_404(Reservation.objects.select_related("shop", "slot__event", "payment"),
                             pk=unsign("done", token))


def payment_for(token: str) -> Payment:
    # Only a konbini payment has a request page; any other id behind a valid signature is still "no such page".
    return get_object_or_404(Payment.objects.select_related("shop"), pk=unsign("pay", token), method=Method.KONBINI)
