"""Who is acting: a staff user, a shop's API token, or the system (batches, sync)."""

from __future__ import annotations

from dataclasses import dataclass, field

from payments.errors import NotPermitted
from shops.api_scopes import perms_for
from shops.selectors import user_can


@dataclass(frozen=True)
class Actor:
    label: str
    user: object | None = None
    # An API token is bound to one shop and a fixed set of operations.
    shop_id: int | None = None
    perms: frozenset[str] | None = field(default=None)
    is_system: bool = False
    # The API token acting (None for a person or the system): who did what, e.g. refunds' second-person rule.
    token_id: int | None = None

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def for_api_token(cls, token) -> Actor:
        return cls(label=f"API: {token.name}", shop_id=token.shop_id, perms=perms_for(token.scopes),
                   token_id=token.pk)

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(label=f"system: {what}", is_system=True)

    def can(self, shop_id: int, perm: str) -> bool:
        if self.is_system:
            return True
        if self.user is not None:
            return user_can(self.user, shop_id, perm)
        return self.shop_id == shop_id and perm in (self.perms or ())

    def require(self, shop_id: int, perm: str) -> None:
        if not self.can(shop_id, perm):
            raise NotPermitted()

    @property
    def user_id(self):
        return getattr(self.user, "pk", None)
