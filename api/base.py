"""What every API view shares: the token's shop as the only scope of its querysets."""

from __future__ import annotations


class ShopScopedMixin:
    """The token's shop only: another shop's id is a 404, exactly like an unknown one."""

    def shop_queryset(self, queryset, shop_field: str = "shop"):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request user
            return queryset.none()
        return queryset.filter(**{f"{shop_field}_id": self.request.user.shop.pk})


def validated_input(request, serializer_class, **kwargs) -> dict:
    """The request body validated by `serializer_class` ({} when the endpoint takes none); 400 with `fields`."""
    if serializer_class is None:
        return {}
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
