"""The status sync spread over the whole worker pool: one coordinator, chunk tasks, one lock, one log.

The coordinator only walks the candidate ids (keyset) to cut them into pk ranges, so its memory and
its messages stay small whatever the table size; each chunk task selects the candidates of its range
again and syncs them with a few threads. The lock, held in the run's name, is released by whichever
chunk finishes last, so a second run cannot start while chunks of the first are still queued.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from batches.locking import acquire, extend, release
from batches.models import BatchRun
from batches.runs import RunReport
from batches.status_sync import NAME, _process, candidates, chunked_ids

LOCK_TTL = timedelta(minutes=30)
SUMMARY_LINES = 200


def _holder(run_id: int) -> str:
    return f"run:{run_id}"


def start(*, recent: timedelta, chunk_size: int, dispatch) -> dict:
    """Cut the candidates into pk ranges and hand each to `dispatch(run_id, lo, hi, since_iso)`."""
    run = BatchRun.objects.create(name=NAME)
    if acquire(NAME, LOCK_TTL, holder=_holder(run.pk)) is None:
        _close(run, BatchRun.Status.SKIPPED, "another run was in progress; nothing done")
        return {"skipped": "another run holds the lock"}
    # Runs whose chunks never all reported (lost worker) lost the lock by expiry; say so in the log.
    BatchRun.objects.filter(name=NAME, status=BatchRun.Status.RUNNING, pk__lt=run.pk).update(
        status=BatchRun.Status.FAILED, finished_at=timezone.now(), summary="did not finish (lock expired)")
    since = timezone.now()
    ranges = [(ids[0], ids[-1]) for ids in chunked_ids(candidates(since, recent), chunk_size)]
    if not ranges:
        _close(run, BatchRun.Status.DONE, "nothing to check")
        release(NAME, _holder(run.pk))
        return {"run": run.pk, "chunks": 0}
    BatchRun.objects.filter(pk=run.pk).update(chunks_total=len(ranges))
    for lo, hi in ranges:
        transaction.on_commit(lambda lo=lo, hi=hi: dispatch(run.pk, lo, hi, since.isoformat(), recent.total_seconds()))
    return {"run": run.pk, "chunks": len(ranges)}


def process_chunk(run_id: int, lo: int, hi: int, since_iso: str, recent_seconds: float) -> dict:
    since = datetime.fromisoformat(since_iso)
    qs = candidates(since, timedelta(seconds=recent_seconds)).filter(pk__gte=lo, pk__lte=hi)
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    report = RunReport()
    _process(ids, report, threading.Lock(), settings.BATCH_GATEWAY_CONCURRENCY)
    _account(run_id, report)
    return {"processed": report.processed, "failed": report.failed}


def _account(run_id: int, report: RunReport) -> None:
    with transaction.atomic():
        run = BatchRun.objects.select_for_update().get(pk=run_id)
        run.processed += report.processed
        run.failed += report.failed
        run.chunks_done += 1
        lines = ([run.summary] if run.summary else []) + report.lines
        run.summary = "\n".join("\n".join(lines).splitlines()[-SUMMARY_LINES:])
        if run.chunks_done >= run.chunks_total:
            run.status = BatchRun.Status.DONE
            run.finished_at = timezone.now()
            run.summary += f"\nchecked {run.processed}, failed {run.failed} in {run.chunks_total} chunk(s)"
            release(NAME, _holder(run_id))
        else:
            extend(NAME, _holder(run_id), LOCK_TTL)
        run.save()


def _close(run: BatchRun, status: str, summary: str) -> None:
    run.status = status
    run.summary = summary
    run.finished_at = timezone.now()
    run.save()
