"""The status sync spread over the whole worker pool: one coordinator, chunk tasks, one lock, one log.

The coordinator streams the candidate ids once (a server-side cursor) and sends them out in chunks of
a few hundred ids, so its memory stays one chunk whatever the table size; each chunk task syncs its
ids with a few threads. The lock, held in the run's name, is released by whichever
chunk finishes last, so a second run cannot start while chunks of the first are still queued.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from batches.locking import acquire, extend, release
from batches.models import BatchRun
from batches.runs import RunReport
from batches.status_sync import NAME, _process, candidates

LOCK_TTL = timedelta(minutes=30)
SUMMARY_LINES = 200


def _holder(run_id: int) -> str:
    return f"run:{run_id}"


def start(*, recent: timedelta, chunk_size: int, dispatch) -> dict:
    """Stream the candidate ids once and hand them out as `dispatch(run_id, ids)` chunks."""
    run = BatchRun.objects.create(name=NAME)
    if acquire(NAME, LOCK_TTL, holder=_holder(run.pk)) is None:
        _close(run, BatchRun.Status.SKIPPED, "another run was in progress; nothing done")
        return {"skipped": "another run holds the lock"}
    # Runs whose chunks never all reported (lost worker) lost the lock by expiry; say so in the log.
    BatchRun.objects.filter(name=NAME, status=BatchRun.Status.RUNNING, pk__lt=run.pk).update(
        status=BatchRun.Status.FAILED, finished_at=timezone.now(), summary="did not finish (lock expired)")
    # The run row is committed: a chunk can account against it as soon as it is dispatched.
    chunks = 0
    for ids in _stream(candidates(timezone.now(), recent), chunk_size):
        dispatch(run.pk, ids)
        chunks += 1
    _dispatched(run.pk, chunks)
    return {"run": run.pk, "chunks": chunks}


def _stream(qs, size: int):
    """One query through a server-side cursor: memory holds one chunk, whatever the candidate count."""
    chunk: list[int] = []
    with transaction.atomic():  # keeps the PostgreSQL cursor open while we dispatch
        for pk in qs.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=2000):
            chunk.append(pk)
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def process_chunk(run_id: int, ids: list[int]) -> dict:
    report = RunReport()
    _process(ids, report, threading.Lock(), settings.BATCH_GATEWAY_CONCURRENCY)
    _account(run_id, report, chunks_done=1)
    return {"processed": report.processed, "failed": report.failed}


def _dispatched(run_id: int, chunks: int) -> None:
    if chunks == 0:
        _account(run_id, RunReport(lines=["nothing to check"]), chunks_done=0, total=0)
    else:
        _account(run_id, RunReport(), chunks_done=0, total=chunks)


def _account(run_id: int, report: RunReport, *, chunks_done: int, total: int | None = None) -> None:
    """Add a chunk's outcome; the run is done when every dispatched chunk has reported.

    `chunks_total` stays unset (None in `total`) while the coordinator is still dispatching, so an
    early chunk cannot finish the run.
    """
    with transaction.atomic():
        run = BatchRun.objects.select_for_update().get(pk=run_id)
        run.processed += report.processed
        run.failed += report.failed
        run.chunks_done += chunks_done
        if total is not None:
            run.chunks_total = total
            run.dispatched = True
        lines = ([run.summary] if run.summary else []) + report.lines
        run.summary = "\n".join("\n".join(lines).splitlines()[-SUMMARY_LINES:])
        if run.dispatched and run.chunks_done >= run.chunks_total:
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
