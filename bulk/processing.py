"""The engine of a bulk run: claim a chunk of items, run each through the payment service, record it.

Claiming: a short transaction locks a chunk of open items with select_for_update(skip_locked) —
pending ones, and `processing` ones whose claim went stale (their worker was killed) — marks them
`processing` with claimed_at, and commits before any gateway call. Tasks running the same run at
once therefore take disjoint chunks; a live worker refreshes claimed_at so it is never taken over.

Never twice at the gateway: each service call carries idempotency_key `bulk:<run>:<payment>`, so a
reclaimed item whose call already happened replays the ledger's operation instead of calling again,
and two different runs on one payment meet at the payment's row lock (one capture, the other told why).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulk.models import BulkRun, BulkRunItem
from bulk.selection import skip_reason
from bulk.services import actor_for
from payments import services
from payments.errors import (
    ChangedMeanwhile,
    GatewayDeclined,
    InvalidTransition,
    NotPermitted,
    PaymentBusy,
    PaymentError,
)
from payments.models import Payment

logger = logging.getLogger(__name__)

SERVICES = {BulkRun.Kind.CAPTURE: services.capture_payment, BulkRun.Kind.CANCEL: services.cancel_payment}
ATTEMPTS = 3  # per item, for "changed meanwhile" / "busy" caused by a concurrent operation
State = BulkRunItem.State


def chunk_size() -> int:
    return int(getattr(settings, "BULK_CHUNK_SIZE", 20))


def stale_after() -> timedelta:
    # Far above one item's worst case (gateway timeout plus a status check), far below "forgotten".
    return timedelta(seconds=int(getattr(settings, "BULK_CLAIM_STALE_SECONDS", 300)))


def busy_wait() -> float:
    return float(getattr(settings, "BULK_BUSY_RETRY_SECONDS", 1.0))


@dataclass(frozen=True)
class Outcome:
    state: str
    message: str = ""
    gateway_job: str = ""
    gateway_code: str = ""
    operation_id: int | None = None


@dataclass
class RunResult:
    processed: int = 0
    waiting: int = 0  # items still claimed by another worker (or by a dead one, not yet stale)
    finished: bool = False


def claim_chunk(run_id: int, size: int) -> list[tuple[int, int]]:
    """Claim up to `size` open items: [(item id, payment id)], committed as `processing`."""
    now = timezone.now()
    claimable = Q(state=State.PENDING) | Q(state=State.PROCESSING, claimed_at__lt=now - stale_after())
    with transaction.atomic():
        claimed = list(BulkRunItem.objects.select_for_update(skip_locked=True).filter(claimable, run_id=run_id)
                       .order_by("pk").values_list("pk", "payment_id")[:size])
        BulkRunItem.objects.filter(pk__in=[pk for pk, _ in claimed]).update(state=State.PROCESSING, claimed_at=now)
    return claimed


def _failed(exc: PaymentError, gateway_code: str = "") -> Outcome:
    op = exc.operation
    return Outcome(State.FAILED, exc.message, op.gateway_job if op else "", gateway_code, op.pk if op else None)


def process_item(run: BulkRun, actor, payment_id: int) -> Outcome:
    service = SERVICES[run.kind]
    key = f"bulk:{run.pk}:{payment_id}"
    for attempt in range(1, ATTEMPTS + 1):
        # Fresh each time: the services check `version` against what the caller saw.
        payment = Payment.objects.select_related("shop").get(pk=payment_id)
        try:
            op = service(payment, by=actor, idempotency_key=key)
        except ChangedMeanwhile as exc:
            if attempt < ATTEMPTS:
                continue  # a concurrent change landed between our load and the lock: look again
            return _failed(exc)
        except PaymentBusy as exc:
            if attempt < ATTEMPTS and exc.operation is None:
                time.sleep(busy_wait())  # another operation is in flight; its result decides ours
                continue
            return _failed(exc)
        except InvalidTransition as exc:
            # No version conflict was raised, so `payment` shows the status the lock saw.
            return Outcome(State.SKIPPED, skip_reason(run.kind, payment.status, exc.message))
        except NotPermitted as exc:
            return Outcome(State.SKIPPED, exc.message)
        except GatewayDeclined as exc:
            return _failed(exc, exc.gateway_code)
        except PaymentError as exc:  # unavailable, outcome unknown (the sync resolves it), …
            return _failed(exc)
        return Outcome(State.SUCCEEDED, op.explanation, op.gateway_job, operation_id=op.pk)
    raise AssertionError("unreachable")


def record_outcome(item_id: int, outcome: Outcome) -> None:
    # Only from `processing`: a finished item is never rewritten, whoever else looked at it.
    BulkRunItem.objects.filter(pk=item_id, state=State.PROCESSING).update(
        state=outcome.state, message=outcome.message, gateway_job=outcome.gateway_job,
        gateway_code=outcome.gateway_code, operation_id=outcome.operation_id, processed_at=timezone.now())


def _process_chunk(run: BulkRun, claimed: list[tuple[int, int]], result: RunResult) -> None:
    actor = actor_for(run)  # re-read per chunk: a revoked permission stops the rest of the run
    item_ids = [pk for pk, _ in claimed]
    beat_every = stale_after().total_seconds() / 5
    last_beat = time.monotonic()
    for index, (item_id, payment_id) in enumerate(claimed):
        if time.monotonic() - last_beat > beat_every:
            BulkRunItem.objects.filter(pk__in=item_ids[index:], state=State.PROCESSING).update(
                claimed_at=timezone.now())
            last_beat = time.monotonic()
        try:
            outcome = process_item(run, actor, payment_id)
        except Exception:
            # Not a payment refusal: a bug or an outage. The ledger holds any call that was made
            # (the sync resolves it); the item is reported, never retried blindly.
            logger.exception("bulk run %s: payment %s failed unexpectedly", run.pk, payment_id)
            outcome = Outcome(State.FAILED, _("Unexpected error; nothing was retried. Check the payment's "
                                              "history before trying again."))
        if outcome.state == State.FAILED:
            logger.info("bulk run %s: payment %s failed: %s", run.pk, payment_id, outcome.message)
        record_outcome(item_id, outcome)
        result.processed += 1


def process_run(run_id: int) -> RunResult | None:
    run = BulkRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    BulkRun.objects.filter(pk=run.pk, status=BulkRun.Status.PENDING).update(
        status=BulkRun.Status.RUNNING, started_at=timezone.now())
    result = RunResult()
    with translation.override(settings.LANGUAGE_CODE):  # stored messages in the admin's default language
        while claimed := claim_chunk(run.pk, chunk_size()):
            _process_chunk(run, claimed, result)
    result.waiting = run.items.filter(state__in=BulkRunItem.OPEN_STATES).count()
    if not result.waiting:
        BulkRun.objects.filter(pk=run.pk).exclude(status=BulkRun.Status.DONE).update(
            status=BulkRun.Status.DONE, finished_at=timezone.now())
        result.finished = True
    logger.info("bulk run %s: %s items processed, %s still claimed elsewhere", run.pk, result.processed,
                result.waiting)
    return result
