"""Celery entry point of bulk runs (queued by bulk.services on commit, or by the Resume button)."""

from celery import shared_task

from bulk.processing import process_run, stale_after


@shared_task(name="bulk.process_bulk_run")
def process_bulk_run(run_id: int) -> dict:
    result = process_run(run_id)
    if result is None:
        return {"missing": run_id}
    if result.waiting:
        # Items claimed by another worker, maybe a dead one: look again once such a claim can be stale.
        process_bulk_run.apply_async((run_id,), countdown=int(stale_after().total_seconds()) + 5)
    return {"processed": result.processed, "waiting": result.waiting, "finished": result.finished}
