"""List filters of the API, the same ones the admin lists offer (and the same conditions behind them).

Dates are Asia/Tokyo calendar days (`created_at__from=2026-11-01&created_at__to=2026-11-30`, both included),
turned into indexed ranges; an invalid value is a 400 naming the parameter, never a silent full list.
"""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from orders.models import Order
from payments.dashboard import attention_choices, attention_condition, jst_day_bounds
from payments.models import Method, Payment, Status


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter, minus its silent cases: a day, a choice or a number given empty (`?created_at__to=`)
    would be ignored and answer the full list; it is a 400 naming the parameter, like any invalid value."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        empty = [name for name, declared in filterset.filters.items()
                 if not isinstance(declared, filters.CharFilter) and "" in request.query_params.getlist(name)]
        if empty:
            raise ValidationError({name: ["A value is required when the parameter is given."] for name in empty})
        return filterset


class IdFilter(filters.NumberFilter):
    """An object's id: an integer (django-filter's NumberFilter takes any decimal and would truncate 2.5)."""

    field_class = forms.IntegerField


class JstDayFilter(filters.DateFilter):
    """One end of a day range on a datetime field: `from` is inclusive, `to` includes the whole day."""

    def __init__(self, field_name: str, end: str, **kwargs):
        self.end = end
        help_text = f"{field_name} {'on or after' if end == 'from' else 'on or before'} this day (JST), YYYY-MM-DD"
        super().__init__(field_name=field_name, help_text=help_text, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        start, end = jst_day_bounds(value)
        return qs.filter(**{f"{self.field_name}__gte": start} if self.end == "from" else
                         {f"{self.field_name}__lt": end})


class SearchFilter(filters.CharFilter):
    """`q`: a case-insensitive substring over the admin's search fields."""

    def __init__(self, fields: list[str], **kwargs):
        self.fields = fields
        super().__init__(help_text=f"Search in {', '.join(fields)}", **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        condition = Q()
        for field in self.fields:
            condition |= Q(**{f"{field}__icontains": value})
        return qs.filter(condition)


def _attention(qs, name, value: str):
    condition = attention_condition(value, timezone.now())
    return qs if condition is None else qs.filter(condition)


class CreatedRangeFilterSet(filters.FilterSet):
    """The list's `created_at__from` / `created_at__to` (JST days), which every API list offers."""

    created_at__from = JstDayFilter("created_at", "from")
    created_at__to = JstDayFilter("created_at", "to")


class PaymentFilter(CreatedRangeFilterSet):
    status = filters.MultipleChoiceFilter(choices=Status.choices)
    method = filters.MultipleChoiceFilter(choices=Method.choices)
    attention = filters.ChoiceFilter(choices=attention_choices, method=_attention,
                                     help_text="要対応: the admin's 'needs attention' choices")
    q = SearchFilter(["gateway_order_id", "reference", "payer_name", "payer_kana", "payer_email"])
    authorized_at__from = JstDayFilter("authorized_at", "from")
    authorized_at__to = JstDayFilter("authorized_at", "to")
    captured_at__from = JstDayFilter("captured_at", "from")
    captured_at__to = JstDayFilter("captured_at", "to")

    class Meta:
        model = Payment
        fields = []


class OrderFilter(CreatedRangeFilterSet):
    fulfilment_status = filters.MultipleChoiceFilter(choices=Order._meta.get_field("fulfilment_status").choices)
    delivery_status = filters.MultipleChoiceFilter(choices=Order._meta.get_field("delivery_status").choices)
    payment_status = filters.MultipleChoiceFilter(field_name="payment__status", choices=Status.choices)
    q = SearchFilter(["number", "customer_name", "customer_email"])

    class Meta:
        model = Order
        fields = []
