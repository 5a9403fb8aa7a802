"""Writes of the bulk app: create a run from a confirmed selection, resume it, and who it acts as."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation

from bulk.models import BulkRun, BulkRunItem
from bulk.selection import Summary, verdicts
from payments.actors import Actor

logger = logging.getLogger(__name__)

WRITE_CHUNK = 1000


class SelectionChanged(Exception):
    """The selection no longer matches what the operator confirmed; nothing was created."""

    def __init__(self, summary: Summary):
        self.summary = summary
        super().__init__("selection changed since the confirmation")


def actor_for_starter(user_id: int | None, what: str) -> Actor:
    """Who background work started by a user acts as: that user, with permissions as they are now (callers
    re-read it per chunk, so a revoked permission stops the rest); once the user is deleted, the system."""
    if user_id is not None:
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is not None:
            return Actor.for_user(user)
    return Actor.system(what)


def actor_for(run: BulkRun) -> Actor:
    return actor_for_starter(run.created_by_id, f"bulk run {run.pk} ({run.actor_label})")


def enqueue(run_id: int) -> None:
    from bulk.tasks import process_bulk_run  # the task module imports the processing engine

    process_bulk_run.delay(run_id)


def start_run(*, kind: str, queryset: QuerySet, user, request_key: uuid.UUID, fingerprint: str, cutoff: int,
              description: str, now: datetime | None = None, enqueue_task: bool = True) -> BulkRun:
    """Create the run and its items in one transaction, then queue the task once committed.

    The same request_key twice (double click, resent form) returns the first run. If the selection
    now differs from the confirmed fingerprint, raises SelectionChanged with the fresh summary.
    """
    existing = BulkRun.objects.filter(request_key=request_key).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    try:
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            # Stored reasons read the same for everyone, in the admin's default language.
            run = BulkRun.objects.create(kind=kind, created_by=user, actor_label=user.get_username(),
                                         request_key=request_key, description=description[:300])
            summary = _create_items(run, queryset.filter(pk__lte=cutoff), user, now)
            if summary.fingerprint != fingerprint or not summary.included:
                raise SelectionChanged(summary)
            run.shops.set(summary.shop_ids)
            if enqueue_task:
                transaction.on_commit(lambda: enqueue(run.pk), robust=True)
    except IntegrityError:
        # The same key raced in from a second request and committed first: that run is this one.
        existing = BulkRun.objects.filter(request_key=request_key).first()
        if existing is None:
            raise
        return existing
    logger.info("bulk run %s (%s) created by %s: %s items", run.pk, kind, run.actor_label, summary.included)
    return run


def _create_items(run: BulkRun, queryset: QuerySet, user, now: datetime) -> Summary:
    summary = Summary(run.kind)
    batch: list[BulkRunItem] = []
    for row, verdict in verdicts(run.kind, queryset, user, now):
        summary.add(row, verdict)
        if not verdict.enters_run:
            continue
        if verdict.job:
            batch.append(BulkRunItem(run=run, payment_id=row.pk))
        else:  # recorded so the report accounts for every selected payment, with the reason
            batch.append(BulkRunItem(run=run, payment_id=row.pk, state=BulkRunItem.State.SKIPPED,
                                     message=verdict.reason, processed_at=now))
        if len(batch) >= WRITE_CHUNK:
            BulkRunItem.objects.bulk_create(batch)
            batch = []
    BulkRunItem.objects.bulk_create(batch)
    return summary


def resume_bulk_run(run: BulkRun) -> bool:
    """Queue the task again for a run with remaining items. Safe at any time: items are claimed."""
    if not run.items.filter(state__in=BulkRunItem.OPEN_STATES).exists():
        return False
    transaction.on_commit(lambda: enqueue(run.pk), robust=True)
    return True
