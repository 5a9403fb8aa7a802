"""List filters of refund tasks, claims and bulk runs: the admin lists' filters, on the same conditions
(refunds.selectors, claims.selectors, bulk.selectors), so an API count and the admin list always agree."""

from __future__ import annotations

import django_filters as filters

from api.filters import CreatedRangeFilterSet, IdFilter, SearchFilter
from bulk.models import BulkRun, BulkRunItem
from bulk.selectors import STATE_FILTERS
from claims import selectors as claim_selectors
from claims.models import Claim, ClaimKind, ClaimState, Party, RefundState
from payments.models import Method
from refunds.models import RefundTask, RefundTaskStatus
from refunds.selectors import attention_choices, attention_condition


def _refund_attention(qs, name, value: str):
    condition = attention_condition(value)
    return qs if condition is None else qs.filter(condition)


class RefundTaskFilter(CreatedRangeFilterSet):
    attention = filters.ChoiceFilter(choices=attention_choices, method=_refund_attention,
                                     help_text="要対応: the admin's 'needs attention' choices")
    status = filters.MultipleChoiceFilter(choices=RefundTaskStatus.choices)
    method = filters.MultipleChoiceFilter(choices=Method.choices)
    q = SearchFilter(["payee", "payment__reference", "payment__gateway_order_id"])

    class Meta:
        model = RefundTask
        fields = []


def _withdrawal(qs, name, value: str):
    return claim_selectors.withdrawal_filter(qs, value)


class ClaimFilter(CreatedRangeFilterSet):
    withdrawal = filters.ChoiceFilter(
        choices=[(claim_selectors.RUNNING, "Deadline running"), (claim_selectors.EXPIRED, "Deadline passed")],
        method=_withdrawal, help_text="撤回要請: deadline running, or passed (needs attention)")
    kind = filters.MultipleChoiceFilter(choices=ClaimKind.choices)
    state = filters.MultipleChoiceFilter(choices=ClaimState.choices)
    refund_state = filters.MultipleChoiceFilter(choices=RefundState.choices)
    requested_by = filters.ChoiceFilter(choices=Party.choices)
    order = IdFilter(field_name="order_id", help_text="The order's id")
    order_number = filters.CharFilter(field_name="order__number", help_text="The order number, exactly")
    q = SearchFilter(["order__number", "order__customer_name"])

    class Meta:
        model = Claim
        fields = []


class BulkRunFilter(CreatedRangeFilterSet):
    kind = filters.ChoiceFilter(choices=BulkRun.Kind.choices)
    status = filters.MultipleChoiceFilter(choices=BulkRun.Status.choices)

    class Meta:
        model = BulkRun
        fields = []


def _item_state(qs, name, value: str):
    return qs.filter(state__in=STATE_FILTERS[value])


class BulkItemFilter(filters.FilterSet):
    # The run page's item filters: "remaining" is both open states (waiting and processing).
    state = filters.ChoiceFilter(choices=[(key, key) for key in STATE_FILTERS], method=_item_state,
                                 help_text="succeeded, failed, skipped, or remaining (not processed yet)")

    class Meta:
        model = BulkRunItem
        fields = []
