"""Konbini deadlines batch (SPEC 3.3, 5): catch expired vouchers and missed webhooks by polling Stripe.

Five steps, each walked in id chunks (bounded memory) and each item on its own (a failure is noted, the
run goes on):

1. vouchers awaiting payment that are due: deadline passed, or Stripe not asked for
   KONBINI_POLL_INTERVAL_SECONDS (or never);
2. konbini payments with an operation left unresolved past the stale bound (a lost Stripe answer);
3. webhook events recorded but still unprocessed a minute later (their task was lost);
4. confirmed reservations whose numbers were never issued (Stripe unreachable at confirmation);
5. notices whose mail failed.

Paid / expired come only from Stripe's word (``sync_payment`` retrieves the PaymentIntent): a voucher past
its deadline that Stripe still shows ``requires_action`` (its grace hour) stays awaiting payment here.
The reservation is never touched: after an expiry it stays 確定 and staff decide.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from batches.runs import RunReport, recorded_run
from batches.status_sync import chunked_ids, each_in_threads, retry_reads
from notices.services import send_unsent
from payments.actors import Actor
from payments.errors import PaymentError
from payments.models import (
    UNRESOLVED,
    Method,
    OperationKind,
    OperationState,
    Payment,
    PaymentOperation,
    Status,
    StripeEvent,
)
from payments.services import sync_payment
from payments.stripe_events import EventDeferred, process_event
from reservations.models import Reservation
from reservations.models import Status as ReservationStatus
from reservations.payment_flow import issue_numbers_if_confirmed

logger = logging.getLogger(__name__)

NAME = "konbini_deadlines"
ACTOR = Actor.system("konbini poll")
# The webhook's own task normally processes an event within seconds; only older ones count as lost.
EVENT_GRACE = timedelta(seconds=60)
# The confirming request issues the numbers itself right after its commit; the poll does not race it.
ISSUE_GRACE = timedelta(seconds=60)


# ---- candidates (each an indexed query; walked by chunked_ids) ------------------------------------------

def due_vouchers(now):
    """Awaiting payment and due for a look (index payment_method_status_deadline)."""
    checked_before = now - timedelta(seconds=settings.KONBINI_POLL_INTERVAL_SECONDS)
    return Payment.objects.filter(method=Method.KONBINI, status=Status.AWAITING_PAYMENT).filter(
        Q(payment_deadline__lte=now) | Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=checked_before))


def unsettled(now):
    """A lost answer, past the stale bound: earlier, a lost create may not be in Stripe's event log yet, and
    "no such create" would let a second voucher be issued. Payments already asked in this run are skipped."""
    stale = now - timedelta(seconds=settings.PENDING_OPERATION_STALE_SECONDS)
    ops = PaymentOperation.objects.filter(state__in=UNRESOLVED, created_at__lt=stale).exclude(kind=OperationKind.SYNC)
    return Payment.objects.filter(method=Method.KONBINI, pk__in=ops.values("payment_id")).exclude(
        last_synced_at__gte=now)


def lost_events(now):
    return StripeEvent.objects.filter(processed_at__isnull=True, received_at__lt=now - EVENT_GRACE)


def unissued(now):
    """Confirmed a while ago, numbers still not issued, nothing of ours in flight on the payment.

    After a refusal by Stripe (not an unreachable Stripe) the issue is retried only once per poll interval:
    the same request may well be refused again (an account without konbini) until staff fix the cause.
    """
    busy = PaymentOperation.objects.unresolved().values("payment_id")
    refused = PaymentOperation.objects.filter(
        kind=OperationKind.ISSUE_NUMBERS, state=OperationState.FAILED, error_code__gt="",
        completed_at__gte=now - timedelta(seconds=settings.KONBINI_POLL_INTERVAL_SECONDS)).values("payment_id")
    return Reservation.objects.filter(
        status=ReservationStatus.CONFIRMED, status_changed_at__lt=now - ISSUE_GRACE,
        payment__in=Payment.objects.filter(method=Method.KONBINI, status=Status.AWAITING_APPROVAL),
    ).exclude(payment_id__in=busy).exclude(payment_id__in=refused)


# ---- one item each ---------------------------------------------------------------------------------------

class _Run:
    """The report shared by the worker threads of one chunk, and what each step did."""

    def __init__(self, report: RunReport):
        self.report = report
        self.lock = threading.Lock()
        self.done: Counter[str] = Counter()

    def ok(self, step: str, *lines: str) -> None:
        with self.lock:
            self.report.processed += 1
            self.done[step] += 1
            for line in lines:
                self.report.note(line)

    def failed(self, line: str) -> None:
        with self.lock:
            self.report.failed += 1
            self.report.note(line)


def sync_one(run: _Run, pk: int, step: str) -> None:
    payment = Payment.objects.select_related("shop").filter(pk=pk).first()
    if payment is None:
        return
    before, now = payment.status, timezone.now()
    try:
        # A read at Stripe (retrieve, event log): safe to repeat when Stripe could not be reached.
        result = retry_reads(lambda: sync_payment(payment, actor=ACTOR))
    except PaymentError as exc:
        run.failed(f"payment #{pk}: {exc.message}")
        return
    except Exception as exc:  # carry on past one broken payment; the log says which
        logger.exception("konbini poll: sync of payment %s failed", pk)
        run.failed(f"payment #{pk}: {type(exc).__name__}")
        return
    after = result.payment.status
    lines = [f"payment #{pk}: {line}" for line in result.resolved + result.discrepancies]
    if after != before:
        lines.append(f"payment #{pk}: {before} → {after} (Stripe: {result.gateway_status})")
    elif after == Status.AWAITING_PAYMENT and payment.payment_deadline and payment.payment_deadline <= now:
        lines.append(f"payment #{pk}: deadline passed, Stripe still says {result.gateway_status}; "
                     "left awaiting payment")
    run.ok(step, *lines)


def process_one(run: _Run, pk: int) -> None:
    event = StripeEvent.objects.filter(pk=pk).only("event_id", "type").first()
    if event is None:
        return
    try:
        outcome = process_event(pk)
    except EventDeferred:
        run.failed(f"event {event.event_id}: an operation on its payment is still in flight; retried next run")
        return
    except PaymentError as exc:  # GatewayUnavailable, GatewayDeclined...
        run.failed(f"event {event.event_id}: {exc.message}")
        return
    except Exception as exc:
        logger.exception("konbini poll: Stripe event %s failed", event.event_id)
        run.failed(f"event {event.event_id}: {type(exc).__name__}")
        return
    run.ok("events", f"event {event.event_id} ({event.type}): {outcome}")


def issue_one(run: _Run, pk: int) -> None:
    try:
        issued = issue_numbers_if_confirmed(pk, by=ACTOR)  # logs its own failure; the confirmation stands
    except Exception as exc:
        logger.exception("konbini poll: numbers of reservation %s failed", pk)
        run.failed(f"reservation #{pk}: {type(exc).__name__}")
        return
    reservation = Reservation.objects.select_related("payment").get(pk=pk)
    payment = reservation.payment
    if issued:
        run.ok("issued", f"payment #{payment.pk}: {Status.AWAITING_APPROVAL} → {payment.status} "
                         f"(numbers issued for reservation #{pk})")
    elif reservation.status == ReservationStatus.CONFIRMED and payment.status == Status.AWAITING_APPROVAL:
        run.failed(f"reservation #{pk}: konbini numbers not issued (the payment's history says why); "
                   "retried by a later run")
    # Otherwise cancelled or issued meanwhile: nothing left to do.


# ---- the run ---------------------------------------------------------------------------------------------

def _walk(qs, work, run: _Run, chunk_size: int, workers: int) -> None:
    for ids in chunked_ids(qs, chunk_size):
        each_in_threads(ids, work, workers)
        run.report.heartbeat()


def run_konbini_deadlines(*, chunk_size: int = 500, workers: int | None = None) -> RunReport | None:
    workers = workers or settings.BATCH_GATEWAY_CONCURRENCY
    with recorded_run(NAME) as report:
        if report is None:
            return None
        run = _Run(report)
        now = timezone.now()  # fixed candidate sets: an item handled in this run drops out
        _walk(due_vouchers(now), lambda pk: sync_one(run, pk, "vouchers"), run, chunk_size, workers)
        _walk(unsettled(now), lambda pk: sync_one(run, pk, "settled"), run, chunk_size, workers)
        _walk(lost_events(now), lambda pk: process_one(run, pk), run, chunk_size, workers)
        _walk(unissued(now), lambda pk: issue_one(run, pk), run, chunk_size, workers)
        try:
            resent = send_unsent()
        except Exception as exc:  # the mail outbox keeps them; the next run retries
            logger.exception("konbini poll: unsent notices failed")
            run.failed(f"notices: {type(exc).__name__}")
            resent = 0
        if resent:
            report.note(f"notices: {resent} unsent mail(s) sent")
        d = run.done
        report.note(f"vouchers checked {d['vouchers']}, lost answers checked {d['settled']}, events processed "
                    f"{d['events']}, numbers issued {d['issued']}, mails resent {resent}; failed {report.failed}")
        return report
