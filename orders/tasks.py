"""Celery entry point of 伝票番号一括登録 uploads (queued on commit by the upload page)."""

from celery import shared_task

from orders.models import SlipUpload
from orders.slip_upload import process_upload, stale_after


@shared_task(name="orders.process_slip_upload")
def process_slip_upload(upload_id: int) -> dict:
    upload = SlipUpload.objects.filter(pk=upload_id).first()
    if upload is None:
        return {"missing": upload_id}
    if process_upload(upload):
        return {"upload": upload_id, "rows": upload.total_rows, "captured": upload.captured_count}
    if upload.status != SlipUpload.Status.DONE:
        # Held by another worker, maybe one that died (e.g. this task redelivered after a crash): look
        # again once such a claim can be stale, so the file never stays half done.
        process_slip_upload.apply_async((upload_id,), countdown=int(stale_after().total_seconds()) + 5)
    return {"upload": upload_id, "waiting": upload.status != SlipUpload.Status.DONE}
