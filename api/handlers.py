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
