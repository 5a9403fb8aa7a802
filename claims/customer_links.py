"""The customer's claim page link: one signed link per order, under /claims/order/<token>/.

Signed like the checkout and reservation links (deterministic, no expiry: the page offers what the order's
delivery status and claims allow, not what the link's age allows). A bad or tampered token, or one that
points at nothing, is a plain 404 (nothing to probe).
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse

from orders.models import Order
from payments_admin.signed_links import absolute, sign, unsign

SALT = "claims.order"


def token_for(order: Order) -> str:
    return sign(SALT, order.pk)


def order_for(token: str) -> Order:
    return get_object_or_404(Order.objects.select_related("shop", "payment"), pk=unsign(SALT, token))


def order_path(order: Order, view: str = "order") -> str:
    return reverse(f"claims_customer:{view}", kwargs={"token": token_for(order)})


def order_url(order: Order) -> str:
    """For mails and for the shop to publish: from PUBLIC_BASE_URL, never the request's Host."""
    return absolute(order_path(order))
