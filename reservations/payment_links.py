"""Signed links to a reservation's customer pages (completion page, one-off payment request)."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404
from django.urls import reverse


def _signer(salt: str) -> signing.Signer:
    return signing.Signer(salt=f"reservations.{salt}")


def sign(salt: str, pk: int) -> str:
    return _signer(salt).sign(str(pk))


def unsign(salt: str, token: str) -> int:
    """The id a link points at; a bad or tampered signature is a plain 404 (nothing to probe)."""
    try:
        value = _signer(salt).unsign(token)
    except signing.BadSignature:
        raise Http404("no such page") from None
    if not value.isdigit():
        raise Http404("no such page")
    return int(value)


def completion_path(reservation) -> str:
    return reverse("reserve:done", kwargs={"token": sign("done", reservation.pk)})


def payment_request_path(payment) -> str:
    return reverse("reserve:pay", kwargs={"token": sign("pay", payment.pk)})


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path
