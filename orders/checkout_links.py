"""The buyer's checkout links: signed, so a payment's page cannot be reached by counting primary keys.

The link is deterministic (no timestamp): the same payment always has the same link, so a link mailed
to the buyer and the one shown in the admin stay interchangeable. It never expires by itself; what the
page offers depends on the payment's status, not on the link's age.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from payments.models import Payment

SALT = "checkout"


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def token_for(payment: Payment) -> str:
    return _signer().sign(str(payment.pk))


def payment_for(token: str) -> Payment:
    """The payment a link points at; a bad or tampered signature is a plain 404 (nothing to probe)."""
    try:
        pk = _signer().unsign(token)
    except signing.BadSignature:
        raise Http404("no such checkout") from None
    if not pk.isdigit():
        raise Http404("no such checkout")
    return get_object_or_404(Payment.objects.select_related("shop"), pk=int(pk))


def _path(view: str, payment: Payment) -> str:
    return reverse(f"checkout:{view}", kwargs={"token": token_for(payment)})


def _absolute(path: str) -> str:
    # From settings, not from the request's Host header: these URLs go to the PG and into e-mails.
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def checkout_path(payment: Payment) -> str:
    return _path("page", payment)


def checkout_url(payment: Payment) -> str:
    return _absolute(checkout_path(payment))


def wallet_return_url(payment: Payment) -> str:
    """RetURL: where the PG sends the buyer's browser back from the wallet."""
    return _absolute(_path("return", payment))


def card_return_url(payment: Payment) -> str:
    """Where GMO's tokenizer page sends the browser with ``?token=...``."""
    return _absolute(_path("card_return", payment))
