"""Stripe webhook events: recorded once per event id, then processed by reading Stripe's current state.

Recording is all the endpoint does (fast acknowledgement); `process_event` runs in a Celery task. A
duplicate delivery only counts itself; an event whose task was lost is picked up by the konbini poll.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from payments.actors import Actor
from payments.errors import GatewayDeclined, GatewayUnavailable
from payments.models import Method, Payment, StripeEvent

logger = logging.getLogger(__name__)


class EventDeferred(Exception):
    """An operation of ours on the payment still waits for its own answer: process the event later."""

# Event types that can move a konbini payment; others are recorded and left alone.
RELEVANT_PREFIXES = ("payment_intent.",)


def record_event(shop, event: dict) -> tuple[StripeEvent, bool]:
    """Returns (row, is_new). Only the id, type and object id are kept: the payload is re-read from Stripe."""
    obj = (event.get("data") or {}).get("object") or {}
    fields = {"type": str(event.get("type", ""))[:100], "object_id": str(obj.get("id", ""))[:100],
              "created": datetime.fromtimestamp(int(event.get("created") or 0), UTC)}
    try:
        with transaction.atomic():
            return StripeEvent.objects.create(shop=shop, event_id=event["id"][:100], **fields), True
    except IntegrityError:
        StripeEvent.objects.filter(shop=shop, event_id=event["id"][:100]).update(deliveries=F("deliveries") + 1)
        return StripeEvent.objects.get(shop=shop, event_id=event["id"][:100]), False


def process_event(event_pk: int) -> str:
    """Apply one recorded event: find the payment and align it with Stripe. Idempotent; safe to run twice."""
    with transaction.atomic():
        # Wait for the lock, never skip it: a duplicate delivery holds this row for a moment to count
        # itself, and skipping would leave the event unprocessed (duplicates are not enqueued).
        event = StripeEvent.objects.select_for_update().filter(pk=event_pk).first()
        if event is None:
            return "gone"
        if event.processed_at:
            return event.result or "done"
        if not event.type.startswith(RELEVANT_PREFIXES):
            return _done(event, "ignored: not a payment_intent event")
        payment = Payment.objects.select_related("shop").filter(
            shop_id=event.shop_id, method=Method.KONBINI, external_id=event.object_id).first()
        if payment is None:
            return _done(event, f"ignored: no konbini payment for {event.object_id}")
    from payments.sync import sync_payment

    try:
        result = sync_payment(payment, actor=Actor.system(f"Stripe webhook {event.event_id}"))
    except (GatewayUnavailable, GatewayDeclined) as exc:
        logger.warning("Stripe event %s: Stripe not reachable (%s); left for a retry", event.event_id, exc.code)
        raise
    if result.in_flight:
        raise EventDeferred(f"{event.event_id}: an operation on payment {payment.pk} is in flight")
    summary = "; ".join(result.corrections + result.resolved + result.discrepancies) or "no change"
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at:
            return event.result
        return _done(event, f"Stripe {result.gateway_status}, ours {result.payment.status}: {summary}")


def _done(event: StripeEvent, result: str) -> str:
    event.processed_at = timezone.now()
    event.result = result[:2000]
    event.save(update_fields=["processed_at", "result"])
    return event.result
