"""Celery entry points of the scheduled batches (schedules: django-celery-beat, see migration 0002)."""

from celery import shared_task

from batches.expiry import run_authorization_expiry
from batches.status_sync import run_status_sync


def _outcome(report) -> dict:
    if report is None:
        return {"skipped": "another run holds the lock"}
    return {"processed": report.processed, "failed": report.failed}


@shared_task(name="batches.gateway_status_sync")
def gateway_status_sync() -> dict:
    return _outcome(run_status_sync())


@shared_task(name="batches.authorization_expiry")
def authorization_expiry() -> dict:
    return _outcome(run_authorization_expiry())
