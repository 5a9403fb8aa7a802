"""Record every batch run (started, finished, what it did), and hold the batch's lock meanwhile."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.utils import timezone

from batches.locking import LockHeld, batch_lock
from batches.models import BatchRun

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    processed: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)
    heartbeat: object = None

    def note(self, line: str) -> None:
        self.lines.append(line)


@contextmanager
def recorded_run(name: str):
    """Yields a RunReport, or None when another run holds the lock (that is recorded too)."""
    run = BatchRun.objects.create(name=name)
    try:
        with batch_lock(name) as heartbeat:
            report = RunReport(heartbeat=heartbeat)
            try:
                yield report
            except Exception as exc:
                _finish(run, BatchRun.Status.FAILED, report, f"{type(exc).__name__}: {exc}")
                raise
            _finish(run, BatchRun.Status.DONE, report)
    except LockHeld:
        logger.info("batch %s: another run holds the lock; exiting", name)
        _finish(run, BatchRun.Status.SKIPPED, RunReport(), "another run was in progress; nothing done")
        yield None


def _finish(run: BatchRun, status: str, report: RunReport, extra: str = "") -> None:
    run.status = status
    run.finished_at = timezone.now()
    run.processed = report.processed
    run.failed = report.failed
    lines = report.lines[-200:] + ([extra] if extra else [])  # bounded: a run log, not a data dump
    run.summary = "\n".join(lines)
    run.save()
