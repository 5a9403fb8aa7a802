"""Filters of the refund-task list: needs attention (the dashboard's links land here) and payment method."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from payments.models import Method
from refunds.selectors import ATTENTION_PARAM, attention_choices, attention_condition


class NeedsAttentionFilter(admin.SimpleListFilter):
    """要対応: to refund, or refunded and waiting for a second person to confirm. Unknown values are ignored."""

    title = _("needs attention")
    parameter_name = ATTENTION_PARAM

    def lookups(self, request, model_admin):
        return attention_choices()

    def queryset(self, request, queryset):
        condition = attention_condition(self.value())
        return queryset if condition is None else queryset.filter(condition)


class MethodFilter(admin.SimpleListFilter):
    """The payment method under its label (the task keeps the raw value, without choices)."""

    title = _("paid by")
    parameter_name = "method"

    def lookups(self, request, model_admin):
        return Method.choices

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(method=value) if value in Method.values else queryset
