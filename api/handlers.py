"""Django's 404 page for the API's paths: the one JSON error body, not HTML.

A path the URL patterns do not match (e.g. `/api/v1/payments/abc/` against `<int:pk>`) never reaches a DRF
view, so Django answers it; an API client must still get `application/json` as the schema documents.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults

from api.errors import error_body

API_PREFIX = "/api/"


def page_not_found(request, exception=None):
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """A crash under /api/ still answers the one error body (details go to the log, never to the client)."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(error_body("server_error", "Internal error. Retry with the same Idempotency-Key: the "
                                                       "retry is answered from the ledger, never sent twice."),
                            status=500)
    return defaults.server_error(request)
