"""Request limits for the public endpoints: a fixed window per scope and client IP, counted in the cache.

Over the limit a request is answered 429 with Retry-After before the view runs, so it changes nothing. The
gateways retry a refused webhook later: a flood delays events, it never makes us drop one silently.
Limits come from settings ("N/s", "N/m", "N/h", "N/d"; "0" or empty switches a limit off). If the cache
is unreachable the request is let through: rate limiting must not take the site down with it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.shortcuts import render

from payments_admin.client_ip import client_ip

logger = logging.getLogger(__name__)
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int


def parse_rate(text: str | None) -> Rate | None:
    """ "600/m" → Rate(600, 60); "0", "" or None → None (no limit). Also "1200/min", "10/hour"."""
    text = (text or "").strip()
    if text in ("", "0"):
        return None
    count, _, period = text.partition("/")
    try:
        number = int(count)
        seconds = PERIODS[period.strip().lower()[:1]]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"bad rate {text!r}: expected N/s, N/m, N/h or N/d") from None
    return Rate(number, seconds) if number > 0 else None


def key_prefix() -> str:
    return settings.RATE_LIMIT_KEY_PREFIX


def hit(name: str, rate: Rate) -> int | None:
    """Count one request against `name` (scope and client): None if within the limit, else seconds to wait."""
    now = time.time()
    window = int(now // rate.seconds)
    key = f"{key_prefix()}:{name}:{window}"
    try:
        cache.add(key, 0, timeout=rate.seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=rate.seconds + 1)
            count = 1
    except Exception:  # fail open, see the module docstring
        logger.warning("rate limit %s: cache unavailable, request let through", name, exc_info=True)
        return None
    if count <= rate.count:
        return None
    return max(1, math.ceil((window + 1) * rate.seconds - now))


def _limited(scope: str, setting: str, refuse):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            rate = parse_rate(getattr(settings, setting, ""))
            if rate is not None:
                ip = client_ip(request) or "unknown"
                wait = hit(f"{scope}:{ip}", rate)
                if wait is not None:
                    logger.warning("rate limit %s exceeded by %s (%d per %d s)", scope, ip, rate.count, rate.seconds)
                    response = refuse(request, wait)
                    response["Retry-After"] = str(wait)
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _refuse_webhook(request, wait: int) -> HttpResponse:
    return HttpResponse(f"too many requests; retry after {wait} seconds", status=429,
                        content_type="text/plain; charset=utf-8")


def _refuse_customer(request, wait: int) -> HttpResponse:
    return render(request, "customer/rate_limited.html", {"wait_minutes": math.ceil(wait / 60)}, status=429)


def webhook_rate_limit(scope: str):
    """For a gateway's callback (WEBHOOK_RATE_LIMIT): 429 plain text, the gateway retries."""
    return _limited(f"webhook:{scope}", "WEBHOOK_RATE_LIMIT", _refuse_webhook)


def customer_rate_limit(scope: str):
    """For the buyer's pages (CUSTOMER_RATE_LIMIT): 429 with a short Japanese page."""
    return _limited(f"customer:{scope}", "CUSTOMER_RATE_LIMIT", _refuse_customer)
