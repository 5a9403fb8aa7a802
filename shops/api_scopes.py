"""What a shop's API token may do: scopes, and the operation permissions each one grants.

A token carries scopes, never a role: an integration that only captures gets `read` + `capture` and
cannot cancel or refund even if its key leaks. The services check the permissions (payments.actors),
the API's permission class checks the scope each endpoint declares (api.permissions).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shops.roles import Perm


class Scope(models.TextChoices):
    READ = "read", _("Read orders, payments, reservations, registrations, claims, refund tasks and runs")
    ORDERS = "orders", _("Place orders and act for customers (book, cancel request, withdraw)")
    CAPTURE = "capture", _("Capture (実売上)")
    CANCEL = "cancel", _("Cancel and refund through the gateway")
    REFUND = "refund", _("Refunds not linked to the gateway and manual refund tasks")
    CHANGE_AMOUNT = "change_amount", _("Change amount")
    REAUTHORIZE = "reauthorize", _("Re-authorize")
    RESERVATIONS = "reservations", _("Approve reservations")
    BULK = "bulk", _("Start bulk runs")


ALL_SCOPES: tuple[str, ...] = tuple(Scope.values)

# The operation permissions a scope lends the token's actor (on top of VIEW, see perms_for). ORDERS lends
# nothing more than a customer's checkout needs; cancelling for a customer acts as that customer
# (claims.customer_actor). BULK grants nothing of its own: a bulk run's items still need capture / cancel.
SCOPE_PERMS: dict[str, frozenset[str]] = {
    Scope.READ: frozenset({Perm.VIEW}),
    Scope.ORDERS: frozenset(),
    Scope.CAPTURE: frozenset({Perm.CAPTURE}),
    Scope.CANCEL: frozenset({Perm.CANCEL}),
    Scope.REFUND: frozenset({Perm.REFUND}),
    Scope.CHANGE_AMOUNT: frozenset({Perm.CHANGE_AMOUNT}),
    Scope.REAUTHORIZE: frozenset({Perm.REAUTHORIZE}),
    Scope.RESERVATIONS: frozenset({Perm.APPROVE_RESERVATIONS}),
    Scope.BULK: frozenset(),
}


def perms_for(scopes) -> frozenset[str]:
    """Any scope makes the token an actor of its shop (VIEW), as every staff role is: an approval that issues
    konbini numbers or an operation's status check needs it. The `read` scope still guards the GET endpoints."""
    if not scopes:
        return frozenset()
    perms: set[str] = {Perm.VIEW}
    for scope in scopes:
        perms |= SCOPE_PERMS.get(scope, frozenset())
    return frozenset(perms)


def clean_scopes(values) -> list[str]:
    """Known scopes in a stable order; raises ValueError naming an unknown one."""
    unknown = sorted(set(values) - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)} (known: {', '.join(ALL_SCOPES)})")
    return [scope for scope in ALL_SCOPES if scope in set(values)]
