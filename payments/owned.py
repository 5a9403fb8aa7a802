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


def allowed_outside_owner(payment, kind: str) -> bool:
    for limit in OPERATION_LIMITS:
        allowed = limit(payment)
        if allowed is not None and kind not in allowed:
            return False
    return True
