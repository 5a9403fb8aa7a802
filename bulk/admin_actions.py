"""Admin actions on the payment list that start bulk runs (filled in by the bulk app)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


@admin.action(description=_("Bulk capture (実売上)"))
def bulk_capture(modeladmin, request, queryset):
    raise NotImplementedError


@admin.action(description=_("Bulk cancel (取消・返品・月跨返品)"))
def bulk_cancel(modeladmin, request, queryset):
    raise NotImplementedError
