"""Issuing a receipt: check, record, draw. Every issue is recorded; all but the first are reissues (再発行)."""

from __future__ import annotations

from dataclasses import replace

from django.db import transaction
from django.db.models import Max

from orders.models import Order
from payments.actors import Actor
from receipts import sources
from receipts.models import ReceiptIssue
from receipts.pdf import render_receipt
from receipts.sources import ReceiptRefused
from registrations.models import Registration
from shops.roles import Perm

__all__ = ["ReceiptRefused", "issue_receipt"]


def _owner_field(source) -> str:
    if isinstance(source, Registration):
        return "registration"
    if isinstance(source, Order):
        return "order"
    raise TypeError(f"no receipt for {type(source).__name__}")


def issue_receipt(source: Registration | Order, *, by: Actor) -> tuple[ReceiptIssue, bytes]:
    """Record a receipt for a registration or an order and return it with its PDF.

    Raises ReceiptRefused (nothing recorded) when the source is cancelled, not paid, or the shop has no
    registration number; NotPermitted without Perm.VIEW on the shop.
    """
    field = _owner_field(source)
    by.require(source.shop_id, Perm.VIEW)
    with transaction.atomic():
        # The owner row is the lock: two requests for the same receipt take turns, so exactly one gets the
        # original, and a cancel holding the row finishes before the lines are read here. Only this one row
        # is locked, so no lock order can be crossed.
        locked = type(source).objects.select_for_update(of=("self",)).select_related("shop", "payment").get(
            pk=source.pk)
        data = sources.receipt_data_for(locked)
        sequence = (ReceiptIssue.objects.filter(**{field: locked}).aggregate(n=Max("sequence"))["n"] or 0) + 1
        issue = ReceiptIssue.objects.create(
            shop=locked.shop, **{field: locked}, number=data.number, sequence=sequence, reissue=sequence > 1,
            recipient=data.recipient, amount=data.amount_received, issued_by=by.user if by.user_id else None,
            issued_by_label=by.label)
        # Drawn inside the transaction: a PDF that cannot be drawn leaves no record of an issue.
        pdf = render_receipt(replace(data, reissue=issue.reissue))
    return issue, pdf
