"""Gateway status sync batch (SPEC 5): ask the gateway about payments whose local state may differ.

Candidates: an operation left `unknown` or `pending` past the stale bound, and payments with an
operation completed recently that were not checked since. It never moves money (it only calls
`sync_payment`, which reads SearchTrade); what it cannot apply goes to the reconciliation report.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from batches.models import ReconciliationItem
from batches.runs import RunReport, recorded_run
from payments.actors import Actor
from payments.errors import GatewayUnavailable, PaymentError
from payments.models import WALLET_METHODS, OperationKind, OperationState, Payment, PaymentOperation, Status
from payments.sync import SyncResult, sync_payment

logger = logging.getLogger(__name__)

NAME = "gateway_status_sync"
ACTOR = Actor.system("status sync batch")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def candidates(now, recent: timedelta):
    """Ids of payments to check, driven by indexed operation rows (never a walk over all payments)."""
    stale = now - timedelta(seconds=settings.PENDING_OPERATION_STALE_SECONDS)
    ops = PaymentOperation.objects.exclude(kind=OperationKind.SYNC)
    unresolved = ops.filter(Q(state=OperationState.UNKNOWN) | Q(state=OperationState.PENDING, created_at__lt=stale))
    changed = ops.filter(state=OperationState.SUCCEEDED, completed_at__gte=now - recent,
                         completed_at__gt=Coalesce(F("payment__last_synced_at"), EPOCH))
    return Payment.objects.filter(Q(pk__in=unresolved.values("payment_id")) | Q(pk__in=changed.values("payment_id"))
                                  | Q(pk__in=wallet_unsettled(now).values("pk")))


def wallet_unsettled(now):
    """Wallet payments the PG may have moved without telling us in an answer (SPEC 3.2): a checkout the buyer
    never came back from (a lost result notification), 売上失敗 (restored when the PG says 仮売上 / 決済完了),
    and 要確認 for a week (the buyer may still finish), each at most hourly. Status-led, so indexed."""
    abandoned = now - timedelta(seconds=settings.WALLET_ABANDONED_AFTER_SECONDS)
    hourly = Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=now - timedelta(hours=1))
    return Payment.objects.filter(method__in=WALLET_METHODS).filter(
        Q(status=Status.UNPROCESSED, created_at__lt=abandoned) & ~Q(access_id="")
        | Q(status=Status.CAPTURE_FAILED)
        | Q(status=Status.NEEDS_CONFIRMATION, created_at__gte=now - timedelta(days=7)) & hourly)


def chunked_ids(qs, size: int) -> Iterator[list[int]]:
    """Keyset pagination: bounded memory whatever the table size."""
    last = 0
    while True:
        ids = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def retry_reads(fn, attempts: int = 3, base_delay: float = 0.5):
    """Retry `fn` (with backoff) when the gateway could not be reached during a read.

    Only for calls whose gateway part is SearchTrade: a read may be repeated, a money call never.
    """
    for attempt in range(attempts):
        try:
            return fn()
        except GatewayUnavailable:
            if attempt == attempts - 1:
                raise
            time.sleep(base_delay * 2**attempt)
    raise AssertionError("unreachable")


def sync_with_retry(payment: Payment) -> SyncResult:
    return retry_reads(lambda: sync_payment(payment, actor=ACTOR))


def record_differences(payment: Payment, result: SyncResult) -> int:
    found = 0
    for line in result.discrepancies:
        kind = ReconciliationItem.Kind.AMOUNT if line.startswith("amount") else ReconciliationItem.Kind.UNRESOLVED
        updated = ReconciliationItem.objects.filter(payment=payment, kind=kind, status="open").update(
            detail=line, gateway_status=result.gateway_status, last_seen_at=timezone.now())
        if not updated:
            try:
                with transaction.atomic():
                    ReconciliationItem.objects.create(payment=payment, shop_id=payment.shop_id, kind=kind,
                                                      detail=line, gateway_status=result.gateway_status)
            except IntegrityError:
                pass  # the same difference was just recorded
        found += 1
    return found


def each_in_threads(ids: list[int], work, workers: int) -> None:
    """`work(pk)` for every id over a few threads, so the gateway round trips overlap (one DB connection each)."""
    if workers <= 1 or len(ids) <= 1:
        for pk in ids:
            work(pk)
        return
    todo: queue.Queue[int] = queue.Queue()
    for pk in ids:
        todo.put(pk)

    def worker():
        try:
            while True:
                try:
                    pk = todo.get_nowait()
                except queue.Empty:
                    return
                work(pk)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(workers, len(ids)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _process(ids: list[int], report: RunReport, lock: threading.Lock, workers: int) -> None:
    each_in_threads(ids, lambda pk: _sync_one(pk, report, lock), workers)


def _sync_one(pk: int, report: RunReport, lock: threading.Lock) -> None:
    payment = None
    try:
        payment = Payment.objects.select_related("shop").get(pk=pk)
        result = sync_with_retry(payment)
    except PaymentError as exc:
        with lock:
            report.failed += 1
            report.note(f"{payment.gateway_order_id}: {exc.message}")
        return
    except Exception as exc:  # carry on past one broken payment; the log says which
        logger.exception("sync of payment %s failed", pk)
        with lock:
            report.failed += 1
            report.note(f"{payment.gateway_order_id if payment else pk}: {type(exc).__name__}")
        return
    differences = record_differences(payment, result)
    with lock:
        report.processed += 1
        for line in result.resolved + result.corrections:
            report.note(f"{payment.gateway_order_id}: {line}")
        if differences:
            report.note(f"{payment.gateway_order_id}: {differences} difference(s) → reconciliation report")


def run_status_sync(*, recent: timedelta = timedelta(hours=2), chunk_size: int = 500,
                    workers: int | None = None) -> RunReport | None:
    workers = workers or settings.BATCH_GATEWAY_CONCURRENCY
    with recorded_run(NAME) as report:
        if report is None:
            return None
        lock = threading.Lock()
        # Fix the candidate set at the start: payments synced during this run drop out of it.
        qs = candidates(timezone.now(), recent)
        for ids in chunked_ids(qs, chunk_size):
            _process(ids, report, lock, workers)
            report.heartbeat()
        report.note(f"checked {report.processed}, failed {report.failed}")
        return report
