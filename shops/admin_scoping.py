"""Base admin that scopes every list, page and lookup to the shops the user belongs to."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404

from shops.selectors import shops_for_user


class ReadOnlyPermissions:
    """Nothing is added, edited or deleted through these pages: changes go through services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShopScopedAdmin(ReadOnlyPermissions, admin.ModelAdmin):
    shop_field = "shop"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.shop_field}__in": shops_for_user(request.user)})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Another shop's object and an unknown id look the same: 404, with no detail.
            raise Http404
        return obj

    def _is_member(self, request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and (user.is_superuser or user.memberships.exists())

    def has_module_permission(self, request):
        return self._is_member(request)

    def has_view_permission(self, request, obj=None):
        return self._is_member(request)


class ReadOnlyScopedInline(ReadOnlyPermissions):
    """Read-only inline shown wherever its (already shop-scoped) parent page is shown."""

    can_delete = False
    extra = 0

    def has_view_permission(self, request, obj=None):
        return True
