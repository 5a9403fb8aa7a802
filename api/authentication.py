"""Per-shop API tokens: `Authorization: Bearer <token>`."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from payments.actors import Actor
from shops.models import ShopApiToken


class ShopPrincipal:
    """Stands in for request.user on API calls; bound to exactly one shop."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, token: ShopApiToken):
        self.token = token
        self.shop = token.shop
        self.actor = Actor.for_api_token(token)

    def __str__(self) -> str:
        return self.actor.label


class ShopTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header.")
        token = ShopApiToken.objects.lookup(header[1].decode(errors="replace"))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return ShopPrincipal(token), token

    def authenticate_header(self, request):
        return "Bearer"
