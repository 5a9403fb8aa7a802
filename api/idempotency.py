"""Idempotency-Key on every mutating endpoint (same key + same body → same response, no second call).

As pretix's API middleware: a used key with a different body → 422; a duplicate arriving while the first
is in flight → 409. The operation keys handed to the payment services are derived from the same header, so
even a request that crashed midway and is retried cannot reach the gateway twice: the ledger replays it.

Not stored (the key may be used again): 5xx answers, 202 "outcome unknown" and 409 "payment busy" — passing
states: a retry then answers from the ledger once the status check has settled the operation, instead of
repeating them forever.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from api.errors import error_body
from api.models import IdempotencyRecord
from payments.errors import PaymentBusy
from payments.models import PaymentOperation

MAX_KEY_LENGTH = 200
# Printable ASCII: a key is an opaque token (a UUID is the usual choice), never free text.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # MAX_KEY_LENGTH; used with fullmatch


def fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{request.method} {request.get_full_path()}\n{body}".encode()).hexdigest()


def operation_key(request, suffix: str = "") -> str | None:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return None
    return f"api:{request.user.shop.pk}:{key}{':' + suffix if suffix else ''}"


def earlier_operation(request, suffix: str = "") -> PaymentOperation | None:
    """The ledger operation an earlier request with this Idempotency-Key made (its answer was lost or was a 202,
    so no record replays it): the retry must be answered from it, never make a second one."""
    key = operation_key(request, suffix)
    if key is None:
        return None
    return PaymentOperation.objects.filter(idempotency_key=key, payment__shop_id=request.user.shop.pk).first()


def _stale_before():
    # Longer than any request can run (gateway timeout plus the status check): its worker is gone.
    return timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT_SECONDS)


def _claim(shop, key: str, fp: str) -> tuple[IdempotencyRecord | None, Response | None]:
    """(record we own, None) to go ahead, or (None, the answer to give instead)."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(shop=shop, key=key, fingerprint=fp), None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(shop=shop, key=key).first()
    if record is None:  # the holder released it meanwhile (a passing answer): claim it afresh
        return _claim(shop, key, fp)
    if record.fingerprint != fp:
        return None, Response(error_body("idempotency_conflict",
                                         "This Idempotency-Key was used with a different request."), status=422)
    if record.state == IdempotencyRecord.DONE:
        response = Response(record.response_body, status=record.response_status)
        response["Idempotent-Replayed"] = "true"
        return None, response
    # In flight. A record left by a crashed worker is taken over by exactly one retry (conditional update);
    # the operation keys still keep the gateway from acting twice.
    taken = IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.IN_FLIGHT,
                                             claimed_at=record.claimed_at,
                                             claimed_at__lt=_stale_before()).update(claimed_at=timezone.now())
    if taken:
        record.refresh_from_db()
        return record, None
    return None, Response(error_body("idempotency_in_flight",
                                     "A request with this Idempotency-Key is still being processed."), status=409)


def _final(response) -> bool:
    passing = response.status_code >= 500 or response.status_code == 202 or (
        response.status_code == 409 and _error_code(response) == PaymentBusy.code)
    return not passing


def _error_code(response) -> str | None:
    error = response.data.get("error") if isinstance(response.data, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _release(record: IdempotencyRecord) -> None:
    # Only while still ours: a retry that took over a stale claim owns the record now.
    IdempotencyRecord.objects.filter(pk=record.pk, claimed_at=record.claimed_at).delete()


def idempotent(view_method):
    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not KEY_PATTERN.fullmatch(key):
            return Response(error_body("invalid_idempotency_key",
                                       f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."),
                            status=400)
        record, answer = _claim(request.user.shop, key, fingerprint(request))
        if answer is not None:
            return answer
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            # Let the client retry: the operation key derived from the header still guards the gateway.
            _release(record)
            raise
        if not _final(response):
            _release(record)
            return response
        IdempotencyRecord.objects.filter(pk=record.pk, claimed_at=record.claimed_at).update(
            state=IdempotencyRecord.DONE, response_status=response.status_code, response_body=response.data)
        return response

    wrapper.idempotent = True  # tests check every mutating endpoint carries it
    return wrapper
