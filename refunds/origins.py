"""Where a refund task came from: the page of the order / reservation / registration its payment belongs to.

Business apps register their link with payments.admin.register_owner_link (reservations do). Orders and
registrations have none registered yet, so their pages are found here from the payment's reverse relations,
only when no registered link answered; once they register theirs, these fallbacks simply go unused.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from payments.admin import OWNER_LINKS
from payments.models import Payment


def _admin_url(name: str, pk: int) -> str | None:
    try:
        return reverse(f"admin:{name}_change", args=[pk])
    except NoReverseMatch:  # that app's admin page does not exist (yet)
        return None


def _orders(payment: Payment) -> list[tuple[str, str]]:
    orders = getattr(payment, "orders", None)
    if orders is None:
        return []
    return [(_("Order %(number)s") % {"number": order.number}, url)
            for order in orders.order_by("pk") if (url := _admin_url("orders_order", order.pk))]


def _registration(payment: Payment) -> list[tuple[str, str]]:
    try:
        registration = payment.registration
    except (AttributeError, ObjectDoesNotExist):
        return []
    url = _admin_url("registrations_registration", registration.pk)
    return [(_("Registration %(number)s") % {"number": registration.number}, url)] if url else []


def origin_links(payment: Payment) -> list[tuple[str, str]]:
    """(label, admin URL) of each business object the payment belongs to; empty when none is known."""
    links = [found for link in OWNER_LINKS if (found := link(payment))]
    if links:
        return links
    return _orders(payment) + _registration(payment)
