"""Form-field checks shared by the GMO sandboxes: the same rules, each API family with its own codes.

`errs` is any collector with `.add(code)` (the sandboxes' `Errors`), so this module imports neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = re.compile(r"[0-9]+")
_ORDER_ID = re.compile(r"[A-Za-z0-9-]+")


@dataclass(frozen=True)
class OrderIdCodes:
    missing: str
    too_long: str
    bad_chars: str


@dataclass(frozen=True)
class AmountCodes:
    missing: str
    not_numeric: str
    too_long: str
    below_one: str


@dataclass(frozen=True)
class TaxCodes:
    not_numeric: str
    too_long: str


def order_id(p: dict[str, str], errs, codes: OrderIdCodes) -> str:
    """1–27 characters of A-Za-z0-9-; "" (with the error added) otherwise."""
    value = p.get("OrderID", "")
    if not value:
        errs.add(codes.missing)
    elif len(value) > 27:
        errs.add(codes.too_long)
    elif not _ORDER_ID.fullmatch(value):
        errs.add(codes.bad_chars)
    else:
        return value
    return ""


def amount(p: dict[str, str], errs, codes: AmountCodes, *, required: bool = True) -> int | None:
    """Whole yen, 1 to 7 digits."""
    raw = p.get("Amount", "")
    if not raw:
        if required:
            errs.add(codes.missing)
        return None
    if not _DIGITS.fullmatch(raw):
        errs.add(codes.not_numeric)
    elif len(raw) > 7:
        errs.add(codes.too_long)
    elif int(raw) < 1:
        errs.add(codes.below_one)
    else:
        return int(raw)
    return None


def tax(p: dict[str, str], errs, codes: TaxCodes) -> int | None:
    """Optional (0 when absent), at most 7 digits."""
    raw = p.get("Tax", "")
    if not raw:
        return 0
    if not _DIGITS.fullmatch(raw):
        errs.add(codes.not_numeric)
    elif len(raw) > 7:
        errs.add(codes.too_long)
    else:
        return int(raw)
    return None
