"""Which shops a user may see, and what they may do there."""

from __future__ import annotations

from django.db.models import QuerySet

from shops.models import Shop, ShopMembership
from shops.roles import ROLE_PERMS


def shops_for_user(user) -> QuerySet[Shop]:
    if not user.is_authenticated:
        return Shop.objects.none()
    if user.is_superuser:
        return Shop.objects.all()
    return Shop.objects.filter(memberships__user=user)


def user_perms(user, shop_id: int) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return ROLE_PERMS["admin"]
    cache = getattr(user, "_shop_perm_cache", None)
    if cache is None:
        cache = {
            m.shop_id: ROLE_PERMS.get(m.role, frozenset())
            for m in ShopMembership.objects.filter(user=user).only("shop_id", "role")
        }
        user._shop_perm_cache = cache
    return cache.get(shop_id, frozenset())


def user_can(user, shop_id: int, perm: str) -> bool:
    return perm in user_perms(user, shop_id)
