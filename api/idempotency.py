"""Idempotency-Key for mutating endpoints (same key + same body → same response, no second call).

Different body with a used key → 422; a duplicate arriving while the first is in flight → 409.
The operation keys handed to the payment services are derived from the same header, so even a
request that crashed midway and is retried cannot reach the gateway twice.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from api.errors import error_body
from api.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def operation_key(request, suffix: str = "") -> str | None:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    return f"api:{request.user.shop.pk}:{key}{':' + suffix if suffix else ''}"


def idempotent(view_method):
    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            return Response(error_body("invalid_idempotency_key", "Idempotency-Key is too long."), status=400)
        shop = request.user.shop
        fp = fingerprint(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(shop=shop, key=key, fingerprint=fp)
        except IntegrityError:
            record = IdempotencyRecord.objects.get(shop=shop, key=key)
            if record.fingerprint != fp:
                return Response(error_body("idempotency_conflict",
                                           "This Idempotency-Key was used with a different request."),
                                status=422)
            if record.state == IdempotencyRecord.IN_FLIGHT:
                return Response(error_body("idempotency_in_flight",
                                           "A request with this Idempotency-Key is still being processed."),
                                status=409)
            response = Response(record.response_body, status=record.response_status)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            # Let the client retry: the operation key derived from the header still guards the gateway.
            record.delete()
            raise
        if response.status_code >= 500:
            record.delete()
            return response
        record.state = IdempotencyRecord.DONE
        record.response_status = response.status_code
        record.response_body = response.data
        record.save(update_fields=["state", "response_status", "response_body"])
        return response

    return wrapper
