"""Celery entry points of the scheduled batches (schedules: django-celery-beat, see migration 0002)."""

from datetime import timedelta

from celery import shared_task

from batches import fanout
from batches.expiry import run_authorization_expiry
from batches.konbini import run_konbini_deadlines


@shared_task(name="batches.gateway_status_sync")
def gateway_status_sync(chunk_size: int = 500, recent_hours: float = 2) -> dict:
    """Coordinator: cuts the work into chunks spread over every worker process."""
    return fanout.start(recent=timedelta(hours=recent_hours), chunk_size=chunk_size,
                        dispatch=lambda *args: gateway_status_sync_chunk.delay(*args))


@shared_task(name="batches.gateway_status_sync_chunk", acks_late=True)
def gateway_status_sync_chunk(run_id: int, ids: list[int]) -> dict:
    return fanout.process_chunk(run_id, ids)


@shared_task(name="batches.authorization_expiry")
def authorization_expiry() -> dict:
    return _outcome(run_authorization_expiry())


@shared_task(name="batches.konbini_deadlines")
def konbini_deadlines() -> dict:
    """Poll Stripe for expired vouchers and missed webhooks (SPEC 3.3); schedule: migration 0004."""
    return _outcome(run_konbini_deadlines())


def _outcome(report) -> dict:
    if report is None:
        return {"skipped": "another run holds the lock"}
    return {"processed": report.processed, "failed": report.failed}
