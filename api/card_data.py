"""Refuse anything that looks like a card number, before it can be stored or logged."""

from __future__ import annotations

import re

CARD_KEYS = re.compile(r"^(card_?(no|number|num)|cardno|pan|cc_?number|security_?code|cvc|cvv)$", re.I)
DIGITS = re.compile(r"^\d{13,19}$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def looks_like_card_number(value) -> bool:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return False
    compact = re.sub(r"[\s-]", "", str(value))
    return bool(DIGITS.match(compact)) and luhn_ok(compact)


def find_card_data(data, path: str = "") -> str | None:
    """The path of the first card-like key or value in a parsed JSON body, else None."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            if CARD_KEYS.match(str(key)):
                return where
            found = find_card_data(value, where)
            if found:
                return found
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found = find_card_data(value, f"{path}[{i}]")
            if found:
                return found
    elif looks_like_card_number(data):
        return path
    return None
