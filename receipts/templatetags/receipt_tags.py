"""{% load receipt_tags %}: whether a page shows the "Receipt (PDF)" button."""

from django import template

from receipts.sources import order_is_paid

register = template.Library()


@register.filter
def receipt_available(order) -> bool:
    """Paid and not cancelled; the download itself checks everything else and explains a refusal."""
    return order is not None and order_is_paid(order)
