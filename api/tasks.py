"""Daily purge of old Idempotency-Key records (schedule: api migration 0003, editable in the admin)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from api.models import IdempotencyRecord

TASK_NAME = "api.purge_idempotency_records"
CHUNK = 5000


def purge_idempotency_records(now=None) -> int:
    """Delete records older than the retention period, a chunk per statement (no long lock on a big table)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.IDEMPOTENCY_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(IdempotencyRecord.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]


@shared_task(name=TASK_NAME)
def purge_idempotency_records_task() -> dict:
    return {"deleted": purge_idempotency_records()}
