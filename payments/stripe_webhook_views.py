"""Stripe webhook endpoint, one URL per shop (its signing secret verifies the request).

Answers fast: verify the signature over the raw body (with a tolerance window), record the event once
per id, hand it to a task after the commit, answer 200. A forged, stale or malformed request is
answered 400 and changes nothing; a duplicate is answered 200 and changes nothing.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gateways.stripe import webhooks
from payments.stripe_events import record_event
from payments_admin.rate_limits import webhook_rate_limit
from shops.models import Shop

logger = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # a PaymentIntent event is a few KB


def _enqueue(pk: int) -> None:
    from payments.tasks import process_stripe_event

    process_stripe_event.delay(pk)


@csrf_exempt  # Stripe cannot send a CSRF token; the signature is the authentication
@webhook_rate_limit("stripe")
@require_POST
@transaction.non_atomic_requests
def stripe_webhook(request: HttpRequest, shop_code: str) -> HttpResponse:
    shop = get_object_or_404(Shop, code=shop_code)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"error": "payload too large"}, status=413)
    try:
        event = webhooks.verify(request.body, request.headers.get("Stripe-Signature"), shop.stripe_webhook_secret,
                                tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS)
    except webhooks.WebhookError as exc:
        # Never log the header or the secret; the kind of refusal is enough to investigate.
        logger.warning("Stripe webhook for shop %s refused: %s", shop.code, type(exc).__name__)
        return JsonResponse({"error": type(exc).__name__}, status=400)
    with transaction.atomic():
        row, is_new = record_event(shop, event)
        if is_new:
            transaction.on_commit(lambda: _enqueue(row.pk), robust=True)
    logger.info("Stripe webhook %s %s (%s)", event["id"], event["type"], "new" if is_new else "duplicate")
    return HttpResponse(json.dumps({"received": True, "duplicate": not is_new}), content_type="application/json")
