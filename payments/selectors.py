"""Reads: scoped to what the user may see, shaped for lists without N+1 queries."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from payments.models import Payment, PaymentOperation
from shops.selectors import shops_for_user


def payments_for_user(user) -> QuerySet[Payment]:
    return Payment.objects.filter(shop__in=shops_for_user(user)).select_related("shop")


def payments_for_shop(shop_id: int) -> QuerySet[Payment]:
    return Payment.objects.filter(shop_id=shop_id).select_related("shop")


def get_payment_for_shop(shop_id: int, pk) -> Payment:
    """404 for an unknown id and for another shop's payment alike: nothing leaks."""
    return get_object_or_404(payments_for_shop(shop_id), pk=pk)


def history(payment: Payment) -> QuerySet[PaymentOperation]:
    return payment.operations.select_related("actor").order_by("created_at", "id")
