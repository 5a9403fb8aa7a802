"""Celery entry point of the staff digest of cancel requests (schedule: migration, CLAIM_DIGEST_HOURS JST)."""

from celery import shared_task

from claims.digests import run_claim_digests

TASK_NAME = "claims.cancel_request_digest"


@shared_task(name=TASK_NAME)
def cancel_request_digest() -> dict:
    report = run_claim_digests()
    if report is None:
        return {"skipped": "another run holds the lock"}
    return {"processed": report.processed, "failed": report.failed}
