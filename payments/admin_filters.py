"""Filters of the payment list, and its "needs attention" column.

All of them narrow the admin's queryset (already scoped to the user's shops) with plain conditions or
EXISTS subqueries: no Python loop over payments and no query per row. Input that does not parse
(a date like 2026-13-45, an unknown choice, a shop id that is not a number) is ignored, never a 500.
"""

from __future__ import annotations

from datetime import date

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from payments.dashboard import (
    annotate_attention,
    attention_choices,
    attention_condition,
    attention_of,
    jst_day_bounds,
)
from shops.selectors import shops_for_user

ATTENTION_PARAM = "attention"


class UserShopFilter(admin.RelatedFieldListFilter):
    """Shop, offering only the shops the user belongs to (all of them for a superuser)."""

    def field_choices(self, field, request, model_admin):
        shops = shops_for_user(request.user).only("pk", "name").order_by("name")
        return [(shop.pk, str(shop)) for shop in shops]

    def queryset(self, request, queryset):
        values = self.used_parameters.get(self.lookup_kwarg) or []
        if not all(str(value).isdigit() for value in values):
            return queryset
        return super().queryset(request, queryset)


def parse_day(raw: str | None) -> date | None:
    """A calendar date typed as 2026-03-10 (or 2026/03/10); None when empty or not a real date."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw.strip().replace("/", "-"))
    except ValueError:
        return None
    return day if date.min.year < day.year < date.max.year else None


class DateRangeFilter(admin.FieldListFilter):
    """From / to dates (both included) on a datetime field, as Asia/Tokyo calendar days.

    Query parameters `<field>__from` and `<field>__to` (YYYY-MM-DD), turned into the indexed range
    `field >= from 00:00 JST` and `field < (to + 1 day) 00:00 JST`.
    """

    template = "admin/payments/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.parameter_from = f"{field_path}__from"
        self.parameter_to = f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.raw_from = self._raw(self.parameter_from)
        self.raw_to = self._raw(self.parameter_to)
        self.date_from = parse_day(self.raw_from)
        self.date_to = parse_day(self.raw_to)

    def _raw(self, name: str) -> str:
        values = self.used_parameters.get(name) or [""]
        return str(values[-1]).strip()

    def expected_parameters(self):
        return [self.parameter_from, self.parameter_to]

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        lookups = {}
        if self.date_from:
            lookups[f"{self.field_path}__gte"] = jst_day_bounds(self.date_from)[0]
        if self.date_to:
            lookups[f"{self.field_path}__lt"] = jst_day_bounds(self.date_to)[1]
        return queryset.filter(**lookups) if lookups else queryset

    def choices(self, changelist):
        own = (self.parameter_from, self.parameter_to)
        yield {
            "selected": bool(self.date_from or self.date_to),
            "from": self.date_from.isoformat() if self.date_from else "",
            "to": self.date_to.isoformat() if self.date_to else "",
            "invalid": [raw for raw, day in ((self.raw_from, self.date_from), (self.raw_to, self.date_to))
                        if raw and day is None],
            # The other filters, the search and the ordering travel along with the form.
            "hidden": [(name, value) for name, values in changelist.filter_params.items() if name not in own
                       for value in values],
            "clear_query_string": changelist.get_query_string(remove=list(own)),
            "param_from": self.parameter_from,
            "param_to": self.parameter_to,
            "dom_id": f"date-range-{self.field_path}",
        }


class NeedsAttentionFilter(admin.SimpleListFilter):
    """要対応: unresolved operation, capture failed, authorization expiring / expired (payments.dashboard)."""

    title = _("Needs attention")
    parameter_name = ATTENTION_PARAM

    def lookups(self, request, model_admin):
        return attention_choices()

    def queryset(self, request, queryset):
        condition = attention_condition(self.value(), timezone.now())
        return queryset if condition is None else queryset.filter(condition)


PAYMENT_LIST_FILTERS = [
    NeedsAttentionFilter,
    "status",
    "method",
    ("shop", UserShopFilter),
    ("authorized_at", DateRangeFilter),
    ("captured_at", DateRangeFilter),
    ("created_at", DateRangeFilter),
]


class AttentionColumnMixin:
    """The list's "needs attention" column: two EXISTS annotations on the queryset, no query per row.

    Put it before the other bases of PaymentAdmin and add "attention" to list_display.
    """

    def get_queryset(self, request):
        return annotate_attention(super().get_queryset(request))

    @admin.display(description=_("Needs attention"))
    def attention(self, obj):
        found = attention_of(obj, timezone.now())
        if not found:
            return ""
        labels = dict(attention_choices())
        return format_html_join(" ", '<span class="attention-badge attention-{}" '
                                'style="color: var(--error-fg); font-weight: bold; white-space: nowrap">{}</span>',
                                ((key, labels[key]) for key in found))
