"""伝票番号一括登録 (SPEC 3.2 "capture three ways", seed 002): an uploaded CSV of order number → slip
number captures those orders and marks them shipped.

accept_upload() stores the file (refusing one that cannot be read as a whole, and returning the earlier
upload for the same bytes); process_upload() then works through it, usually in a Celery worker.

Why it is safe to run process_upload() again (a worker retried, killed, or queued twice):
- the report is saved after every chunk and the rows it already holds are skipped;
- only one worker works on a file at a time (claimed_at; a dead worker's claim goes stale);
- a row interrupted between the capture and the saved report meets its own capture again through the
  idempotency key: the gateway is never called twice, and the ledger tells us the capture was ours;
- the slip number is not recorded twice on the same order.
Every capture and shipment runs in its own short transaction (the services'), never one for the file.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bulk.services import actor_for_starter
from orders import shipping
from orders.models import Order, SlipUpload
from orders.slip_csv import ReportEntry, ReportResult, SlipRow, file_fingerprint, parse_slip_csv
from payments import services
from payments.actors import Actor
from payments.errors import ChangedMeanwhile, PaymentError
from payments.models import LIVE_CAPTURED, OperationState, PaymentOperation
from shops.roles import Perm

logger = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # far above parse_slip_csv's MAX_ROWS of ordinary rows
ATTEMPTS = 3  # per row, when the payment changed between our read and the service's lock
COUNT_FIELDS = {result: f"{result}_count" for result in ReportResult.values}


class UploadRefused(Exception):
    """The file as a whole cannot be used; nothing was stored."""

    def __init__(self, message: str):
        self.message = str(message)
        super().__init__(self.message)


def chunk_size() -> int:
    return int(getattr(settings, "SLIP_UPLOAD_CHUNK_SIZE", 500))


def stale_after() -> timedelta:
    # Well above one chunk's heartbeat interval, so a live worker is never taken over.
    return timedelta(seconds=int(getattr(settings, "SLIP_UPLOAD_STALE_SECONDS", 300)))


def capture_key(upload: SlipUpload, order: Order) -> str:
    # Per upload as well as per order: a retry of this upload replays its own capture, while a later
    # upload may try again an order whose capture was refused here (a replayed key would only repeat
    # the old refusal, e.g. "gateway unreachable", for ever).
    return f"slip:{upload.pk}:{order.pk}:capture"


# --- accepting the file ---------------------------------------------------------------------------------


def refuse_too_large(size: int) -> None:
    """Also called by the upload page before it reads the file into memory."""
    if size > MAX_BYTES:
        raise UploadRefused(_("The file is larger than %(max)s MB. Split it into smaller files and upload "
                              "them one by one.") % {"max": MAX_BYTES // (1024 * 1024)})


def accept_upload(shop, data: bytes, filename: str, by: Actor) -> tuple[SlipUpload, bool]:
    """Store a file for processing: (upload, created). The same bytes again give the first upload back."""
    by.require(shop.pk, Perm.CAPTURE)
    fingerprint = file_fingerprint(data)
    existing = SlipUpload.objects.filter(shop=shop, fingerprint=fingerprint).first()
    if existing is not None:
        return existing, False
    refuse_too_large(len(data))
    parsed = parse_slip_csv(data)  # parsed again by the worker: cheap, and nothing derived is stored twice
    if parsed.file_error:
        raise UploadRefused(parsed.file_error)
    try:
        with transaction.atomic():
            upload = SlipUpload.objects.create(
                shop=shop, filename=(filename or "")[:255], fingerprint=fingerprint, data=data,
                encoding=parsed.encoding or "", uploaded_by_id=by.user_id, uploaded_by_label=by.label[:150],
                total_rows=len(parsed.rows) + len(parsed.errors))
    except IntegrityError:
        # The same file raced in from a second request (double click) and committed first.
        return SlipUpload.objects.get(shop=shop, fingerprint=fingerprint), False
    return upload, True


# --- processing -----------------------------------------------------------------------------------------


def _claim(upload: SlipUpload) -> bool:
    now = timezone.now()
    claimable = Q(status=SlipUpload.Status.QUEUED) | Q(status=SlipUpload.Status.PROCESSING,
                                                       claimed_at__lt=now - stale_after())
    claimed = SlipUpload.objects.filter(claimable, pk=upload.pk).update(
        status=SlipUpload.Status.PROCESSING, claimed_at=now)
    if claimed:
        upload.refresh_from_db()
    return bool(claimed)


def _save(upload: SlipUpload, new: list[ReportEntry], *, done: bool = False) -> None:
    upload.entries = [*upload.entries, *(asdict(entry) for entry in new)]
    counts = Counter(entry["result"] for entry in upload.entries)
    fields = {field: counts.get(result, 0) for result, field in COUNT_FIELDS.items()}
    fields.update(entries=upload.entries, claimed_at=timezone.now())
    if done:
        fields.update(status=SlipUpload.Status.DONE, finished_at=timezone.now())
    SlipUpload.objects.filter(pk=upload.pk).update(**fields)
    for name, value in fields.items():
        setattr(upload, name, value)


def process_upload(upload: SlipUpload) -> bool:
    """Work through the file. False when another live worker holds it (or it is done): nothing was done."""
    if not _claim(upload):
        return False
    with translation.override(settings.LANGUAGE_CODE):  # stored messages read the same for everyone
        parsed = parse_slip_csv(bytes(upload.data))
        done = {entry["line"] for entry in upload.entries}
        _save(upload, [ReportEntry.from_error(error) for error in parsed.errors if error.line not in done])
        todo = [row for row in parsed.rows if row.line not in done]
        size = chunk_size()
        for start in range(0, len(todo), size):
            _save(upload, _process_chunk(upload, todo[start:start + size]))
        _save(upload, [], done=True)
    logger.info("slip upload %s (shop %s): %s rows, %s captured", upload.pk, upload.shop_id, upload.total_rows,
                upload.captured_count)
    return True


def _process_chunk(upload: SlipUpload, rows: list[SlipRow]) -> list[ReportEntry]:
    actor = actor_for_starter(upload.uploaded_by_id, f"slip upload {upload.pk} ({upload.uploaded_by_label})")
    # One query for the chunk's orders (and one for their shipments), not one per row.
    orders = {order.number: order for order in Order.objects.filter(
        shop_id=upload.shop_id, number__in=[row.order_number for row in rows],
    ).select_related("payment__shop").prefetch_related("shipments")}
    keys = {capture_key(upload, order) for order in orders.values()}
    ours = set(PaymentOperation.objects.filter(idempotency_key__in=keys, state=OperationState.SUCCEEDED)
               .values_list("idempotency_key", flat=True))
    entries, beat, beat_every = [], time.monotonic(), stale_after().total_seconds() / 5
    for row in rows:
        if time.monotonic() - beat > beat_every:
            SlipUpload.objects.filter(pk=upload.pk).update(claimed_at=timezone.now())  # still alive
            beat = time.monotonic()
        order = orders.get(row.order_number)
        try:
            entries.append(_process_row(upload, row, order, actor, ours))
        except Exception:
            # A bug or an outage, not a refusal: reported, never retried blindly. A capture that was
            # sent is in the payment's ledger and its idempotency key.
            logger.exception("slip upload %s: line %s failed unexpectedly", upload.pk, row.line)
            entries.append(ReportEntry(row.line, row.order_number, row.slip_number, ReportResult.NOT_CAPTURABLE,
                                       _("Unexpected error; nothing was retried. Check the order's history "
                                         "before trying again.")))
    return entries


def _process_row(upload: SlipUpload, row: SlipRow, order: Order | None, actor: Actor,
                 ours: set[str]) -> ReportEntry:
    def entry(result: str, message: str = "") -> ReportEntry:
        return ReportEntry(row.line, row.order_number, row.slip_number, result, message)

    if order is None:
        return entry(ReportResult.UNKNOWN_ORDER, _("There is no order with this number in this shop."))
    payment = order.payment
    if payment is None:
        return entry(ReportResult.NOT_CAPTURABLE, _("This order has no payment."))
    key = capture_key(upload, order)
    for attempt in range(1, ATTEMPTS + 1):
        if payment.status in LIVE_CAPTURED and key not in ours:
            # Captured before (by hand, a bulk run, another file, immediate capture): no gateway call.
            return entry(ReportResult.ALREADY_CAPTURED, _record_slip(order, row, actor))
        try:
            # Also when our own capture is already in the ledger (a retried worker): the key replays it.
            services.capture_payment(payment, by=actor, idempotency_key=key)
        except ChangedMeanwhile as exc:
            if attempt == ATTEMPTS:
                return entry(ReportResult.NOT_CAPTURABLE, exc.message)
            payment.refresh_from_db()  # e.g. the status sync touched it: look again
            continue
        except PaymentError as exc:  # the rule refused (unsent change, status), the gateway declined, …
            return entry(ReportResult.NOT_CAPTURABLE, exc.message)
        ours.add(key)
        break
    message = _record_slip(order, row, actor)
    return entry(ReportResult.CAPTURED, message)


def _record_slip(order: Order, row: SlipRow, actor: Actor) -> str:
    """Mark the order shipped with the row's slip number, unless it is already shipped. Says what it did."""
    shipments = list(order.shipments.all())
    if any(s.slip_number == row.slip_number and s.shipped_at for s in shipments):
        return _("Slip number recorded.")  # by an earlier, interrupted pass of this file
    if shipments and all(s.shipped_at for s in shipments):
        return _("The order was already shipped (slip number %(slips)s); the slip number was not recorded.") % {
            "slips": ", ".join(s.slip_number for s in shipments if s.slip_number) or "—"}
    try:
        shipping.mark_shipped(order, carrier=row.carrier, slip_number=row.slip_number, by=actor)
    except PaymentError as exc:
        return _("The slip number was not recorded: %(reason)s") % {"reason": exc.message}
    return _("Slip number recorded.")
