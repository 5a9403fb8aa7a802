"""Scope checks: each endpoint says which token scope it needs; reads need `read`.

A view sets `scope` (the scope of its writes, e.g. Scope.CAPTURE) and optionally `read_scope`.
Missing scope → 403 `missing_scope` before anything is looked up or changed. Another shop's object
is then a 404 from the view's shop-scoped queryset, so a token never learns what another shop has.
"""

from __future__ import annotations

from rest_framework import exceptions, permissions

from shops.api_scopes import Scope

READ_METHODS = ("GET", "HEAD", "OPTIONS")


class MissingScope(exceptions.PermissionDenied):
    default_code = "missing_scope"

    def __init__(self, scope: str):
        super().__init__(f"This API token lacks the '{scope}' scope.", code="missing_scope")


def required_scope(view, method: str) -> str:
    if method in READ_METHODS:
        return getattr(view, "read_scope", Scope.READ)
    scope = getattr(view, "scope", None)
    if scope is None:
        raise AssertionError(f"{type(view).__name__} accepts {method} but declares no scope")
    return scope


class HasScope(permissions.BasePermission):
    def has_permission(self, request, view):
        token = getattr(request.user, "token", None)
        if token is None:  # not authenticated: IsAuthenticated answers 401 first
            return False
        if not hasattr(view, request.method.lower()):
            return True  # a method the view does not have: its 405 follows, and no scope can change that
        scope = required_scope(view, request.method)
        if not token.has_scope(scope):
            raise MissingScope(scope)
        return True
