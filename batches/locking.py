"""A portable named lock (PostgreSQL and the SQLite demo alike) with an expiry and a heartbeat."""

from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from batches.models import BatchLock


class LockHeld(Exception):
    """Another run holds the lock; this run must exit without doing anything."""


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def acquire(name: str, ttl: timedelta, holder: str | None = None) -> str | None:
    try:
        with transaction.atomic():
            BatchLock.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # created by a concurrent caller
    now = timezone.now()
    holder = holder or _holder()
    # A single conditional UPDATE: only one caller can turn a free (or expired) lock into its own.
    taken = BatchLock.objects.filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now), name=name).update(
        holder=holder, locked_until=now + ttl)
    return holder if taken else None


def extend(name: str, holder: str, ttl: timedelta) -> bool:
    return bool(BatchLock.objects.filter(name=name, holder=holder).update(locked_until=timezone.now() + ttl))


def release(name: str, holder: str) -> None:
    BatchLock.objects.filter(name=name, holder=holder).update(holder="", locked_until=None)


@contextmanager
def batch_lock(name: str, ttl: timedelta = timedelta(minutes=15)):
    holder = acquire(name, ttl)
    if holder is None:
        raise LockHeld(name)
    try:
        yield lambda: extend(name, holder, ttl)
    finally:
        release(name, holder)
