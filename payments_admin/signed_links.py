"""Customer links without login (checkout, reservations, claims): a primary key signed with a per-page salt.

Deterministic and without expiry: the same object always has the same link, and what a page offers depends
on the object's status, not the link's age. A bad or tampered token, or one that is not an id, is a plain
404 (nothing to probe). Absolute URLs come from PUBLIC_BASE_URL, never the request's Host header: they go
into e-mails and to the gateways.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404


def sign(salt: str, pk: int) -> str:
    return signing.Signer(salt=salt).sign(str(pk))


def unsign(salt: str, token: str) -> int:
    """The id a link points at."""
    try:
        value = signing.Signer(salt=salt).unsign(token)
    except signing.BadSignature:
        raise Http404("no such page") from None
    if not value.isdigit():
        raise Http404("no such page")
    return int(value)


def absolute(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path
