"""The client's IP address, for login lockouts, rate limits and the audit log.

Behind reverse proxies (TRUSTED_PROXY_COUNT of them, each appending the address it saw to X-Forwarded-For)
the client is the entry the outermost proxy appended; anything left of it was written by the client and
can be forged, so it is never used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    # Fewer entries than proxies: the request did not come through all of them; trust only the connection.
    chosen = forwarded[-count] if len(forwarded) >= count else remote
    # Stored in IP address columns (lockouts, audit): anything that is not an address is the connection's.
    return chosen if _is_address(chosen) else remote


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
