"""Celery tasks of the payments core."""

from __future__ import annotations

from celery import shared_task

from payments.errors import GatewayDeclined, GatewayUnavailable


@shared_task(name="payments.process_stripe_event", bind=True, acks_late=True, max_retries=8)
def process_stripe_event(self, event_pk: int) -> str:
    from payments.stripe_events import EventDeferred, process_event

    try:
        return process_event(event_pk)
    except (GatewayUnavailable, GatewayDeclined, EventDeferred) as exc:
        # Stripe unreachable or our own operation still in flight; the konbini poll also retries it.
        raise self.retry(exc=exc, countdown=min(10 * 2 ** self.request.retries, 900)) from exc
