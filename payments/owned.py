"""Payments a business object operates from its own page: a registration's lines must follow its money, a
reservation's seats its konbini payment. The generic payment page and the payments API leave those
operations to the owner; each owning app registers what the generic screens may still do.
"""

from __future__ import annotations

# function(payment) -> the operation kinds still allowed outside the owner, or None when not its payment.
OPERATION_LIMITS: list = []


def limit_operations(function):
    if function not in OPERATION_LIMITS:
        OPERATION_LIMITS.append(function)
    return function


# function(kind) -> a Q over Payment matching the payments whose owner keeps `kind`, or None: the same rule for
# querysets (a bulk selection of 100,000 payments asks it in one query, not once per payment).
OWNED_CONDITIONS: list = []


def limit_operations_in_querysets(function):
    if function not in OWNED_CONDITIONS:
        OWNED_CONDITIONS.append(function)
    return function


def kept_by_owner(kind: str):
    """Q of the payments an owner keeps `kind` for, or None when no owner keeps it."""
    condition = None
    for function in OWNED_CONDITIONS:
        owned = function(kind)
        if owned is not None:
            condition = owned if condition is None else condition | owned
    return condition


def allowed_outside_owner(payment, kind: str) -> bool:
    for limit in OPERATION_LIMITS:
        allowed = limit(payment)
        if allowed is not None and kind not in allowed:
            return False
    return True
