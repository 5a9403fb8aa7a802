"""The claim list's withdrawal filter (`?withdrawal=running|expired`, claims.selectors): the board's rows and the
dashboard's "deadline passed" figure link here with the same condition the counts use."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from claims import selectors

WITHDRAWAL_PARAM = selectors.WITHDRAWAL_PARAM
DEADLINE_PASSED = selectors.EXPIRED


class WithdrawalFilter(admin.SimpleListFilter):
    """撤回要請 with its deadline running, or passed (needs attention: staff decide). Unknown values: ignored."""

    title = _("withdrawal request")
    parameter_name = WITHDRAWAL_PARAM

    def lookups(self, request, model_admin):
        return [(selectors.RUNNING, _("Deadline running")),
                (selectors.EXPIRED, _("Deadline passed (needs attention)"))]

    def queryset(self, request, queryset):
        return selectors.withdrawal_filter(queryset, self.value())
