"""Requests per API token (API_RATE_LIMIT, default 1200/min): a fixed window counted in the cache.

DRF's own SimpleRateThrottle keeps a list of timestamps per key and rewrites it on every request; the
window counter of payments_admin.rate_limits is cheaper and safe under concurrent requests. Over the
limit DRF answers 429 with Retry-After in the one error body (code `throttled`).
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from payments_admin import rate_limits


class ApiTokenRateThrottle(SimpleRateThrottle):
    scope = "api_token"

    def get_rate(self):
        # Read at request time (not import time) so a settings change applies at once.
        text = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return None if rate_limits.parse_rate(text) is None else text

    def get_cache_key(self, request, view):
        token = getattr(request.user, "token", None)
        return None if token is None else f"api:token:{token.pk}"  # no token: authentication refuses it

    def allow_request(self, request, view):
        rate = rate_limits.parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        if rate is None or key is None:
            return True
        self._wait = rate_limits.hit(key, rate)
        return self._wait is None

    def wait(self):
        return getattr(self, "_wait", None)
