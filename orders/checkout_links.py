"""The buyer's checkout links: signed, so a payment's page cannot be reached by counting primary keys.

The link is deterministic (no timestamp): the same payment always has the same link, so a link mailed
to the buyer and the one shown in the admin stay interchangeable. It never expires by itself; what the
page offers depends on the payment's status, not on the link's age.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse

from payments.models import Payment
from payments_admin.signed_links import absolute, sign, unsign

SALT = "checkout"


def token_for(payment: Payment) -> str:
    return sign(SALT, payment.pk)


def payment_for(token: str) -> Payment:
    """The payment a link points at; a bad or tampered signature is a plain 404 (nothing to probe)."""
    return get_object_or_404(Payment.objects.select_related("shop"), pk=unsign(SALT, token))


def _path(view: str, payment: Payment) -> str:
    return reverse(f"checkout:{view}", kwargs={"token": token_for(payment)})


def checkout_path(payment: Payment) -> str:
    return _path("page", payment)


def checkout_url(payment: Payment) -> str:
    return absolute(checkout_path(payment))


def wallet_return_url(payment: Payment) -> str:
    """RetURL: where the PG sends the buyer's browser back from the wallet."""
    return absolute(_path("return", payment))


def card_return_url(payment: Payment) -> str:
    """Where GMO's tokenizer page sends the browser with ``?token=...``."""
    return absolute(_path("card_return", payment))
