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
from shops.api_scopes import Scope
from shops.models import ShopApiToken

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


def actor_for_token(token_id: int, what: str) -> Actor:
    """Who a run started by an API token acts as: that token with its scopes as they are now (re-read per chunk
    like a user's permissions). Revoked, deleted or without the `bulk` scope: an actor permitted nothing, so the
    rest of the run is skipped as not permitted — never the system."""
    token = ShopApiToken.objects.active().filter(pk=token_id).first()
    if token is None or not token.has_scope(Scope.BULK):
        return Actor(label=f"API: {what} (token revoked or without the bulk scope)",
                     shop_id=getattr(token, "shop_id", None), perms=frozenset(), token_id=token_id)
    return Actor.for_api_token(token)


def actor_for(run: BulkRun) -> Actor:
    if run.api_token_id is not None:
        return actor_for_token(run.api_token_id, f"bulk run {run.pk} ({run.actor_label})")
    return actor_for_starter(run.created_by_id, f"bulk run {run.pk} ({run.actor_label})")


def enqueue(run_id: int) -> None:
    from bulk.tasks import process_bulk_run  # the task module imports the processing engine

    process_bulk_run.delay(run_id)


def start_run(*, kind: str, queryset: QuerySet, user=None, request_key: uuid.UUID, fingerprint: str, cutoff: int,
              description: str, now: datetime | None = None, enqueue_task: bool = True,
              api_token: ShopApiToken | None = None) -> BulkRun:
    """Create the run and its items in one transaction, then queue the task once committed.

    Started by `user` (the admin) or by `api_token` (the API; the items are then judged with the token's
    permissions, and the run acts as the token). The same request_key twice (double click, resent form,
    retried API request) returns the first run. If the selection now differs from the confirmed fingerprint,
    raises SelectionChanged with the fresh summary.
    """
    if (user is None) == (api_token is None):
        raise ValueError("start_run needs exactly one of user and api_token")
    existing = BulkRun.objects.filter(request_key=request_key).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    who = user if api_token is None else Actor.for_api_token(api_token)
    label = user.get_username() if api_token is None else who.label
    try:
        with transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            # Stored reasons read the same for everyone, in the admin's default language.
            run = BulkRun.objects.create(kind=kind, created_by=user, api_token=api_token, actor_label=label,
                                         request_key=request_key, description=description[:300])
            summary = _create_items(run, queryset.filter(pk__lte=cutoff), who, now)
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


def _create_items(run: BulkRun, queryset: QuerySet, who, now: datetime) -> Summary:
    summary = Summary(run.kind)
    batch: list[BulkRunItem] = []
    for row, verdict in verdicts(run.kind, queryset, who, now):
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
