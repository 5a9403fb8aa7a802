"""銀行入金明細の取込 (SPEC 3.4): book the transfers of a bank statement CSV against open bank transfer payments.

A row is booked (the payment marked paid, through `mark_transfer_received`) only when its amount and payer
name match exactly one payment of the shop awaiting its transfer (payments.kana). Everything else is left for
a person, never guessed: several candidates (ambiguous), none, a transfer for a cancelled payment (SPEC 3.4:
not booked as its payment; the organizer handles it), or one matching a payment already received (the same
transfer in an overlapping statement?). A person then assigns the row to a payment or records it as handled.

Booking a row carries the idempotency key of (import, line): a re-run of the processing, a double click on
"assign" or a crash in between can never book a row twice; the same file uploaded again is recognised by
its hash and not imported again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from payments.actors import Actor
from payments.bank_statement_csv import fingerprint as file_fingerprint
from payments.bank_statement_csv import parse_statement
from payments.bank_statement_models import TO_HANDLE, BankStatementImport, BankStatementRow, RowOutcome
from payments.bank_transfer import mark_transfer_received, sync_bank_transfer
from payments.card_rules import JST
from payments.errors import ChangedMeanwhile, InvalidTransition, PaymentError
from payments.formatting import yen
from payments.kana import Match, OpenTransfer, StatementRow, match_rows, name_key
from payments.models import Method, OperationState, Payment, PaymentOperation, Status
from shops.models import Shop
from shops.roles import Perm

CHUNK = 500
ROW_FIELDS = ["outcome", "payment", "candidates", "note"]


class DuplicateStatement(PaymentError):
    """This very file was imported before: its import is shown instead, nothing is booked again."""

    code = "duplicate_statement"

    def __init__(self, existing: BankStatementImport):
        self.existing = existing
        super().__init__(_("This file was already imported on %(date)s by %(who)s: nothing was booked again.") % {
            "date": f"{timezone.localtime(existing.created_at):%Y-%m-%d %H:%M}", "who": existing.uploaded_by_label})


def row_key(statement_id: int, line: int) -> str:
    """The idempotency key of booking one statement row: one row books one payment, once."""
    return f"bank-statement:{statement_id}:{line}"


def received_at(day: date) -> datetime:
    """The transfer date (Asia/Tokyo) as the payment's time of receipt; never later than now."""
    return min(datetime.combine(day, time(), tzinfo=JST), timezone.now())


# --- import -----------------------------------------------------------------------------------------------

def import_statement(shop: Shop, *, file_name: str, data: bytes, by: Actor) -> BankStatementImport:
    """Parse, store every row (malformed ones with their reason), then match and book. Nothing is stored when
    the file as a whole cannot be read (UnreadableStatement)."""
    by.require(shop.pk, Perm.MARK_PAID)
    digest = file_fingerprint(data)
    existing = BankStatementImport.objects.filter(shop=shop, content_hash=digest).first()
    if existing is not None:
        raise DuplicateStatement(existing)
    parsed = parse_statement(data)
    try:
        with transaction.atomic():
            statement = BankStatementImport.objects.create(
                shop=shop, file_name=file_name[:255], content_hash=digest, encoding=parsed.encoding,
                uploaded_by_id=by.user_id, uploaded_by_label=by.label)
            rows = [BankStatementRow(statement=statement, line=r.line, transfer_date=r.transfer_date, amount=r.amount,
                                     payer=r.payer, raw=r.raw) for r in parsed.rows]
            rows += [BankStatementRow(statement=statement, line=e.line, raw=e.raw, note=e.reason,
                                      outcome=RowOutcome.MALFORMED) for e in parsed.errors]
            BankStatementRow.objects.bulk_create(rows, batch_size=CHUNK)
    except IntegrityError:  # the same file, uploaded at the same moment by someone else
        raise DuplicateStatement(BankStatementImport.objects.get(shop=shop, content_hash=digest)) from None
    process_statement(statement, by=by)
    return statement


@dataclass
class _Index:
    """Payments of the shop by (amount, name key), read once per import: id only."""

    by_key: dict[tuple[int, str], list[int]]

    @classmethod
    def of(cls, payments: Iterable[tuple[int, int, str, str, str]], status: str) -> _Index:
        by_key: dict[tuple[int, str], list[int]] = {}
        for pk, amount, kana, name, their_status in payments:
            if their_status == status:
                by_key.setdefault((amount, name_key(kana or name)), []).append(pk)
        return cls(by_key)

    def get(self, row: StatementRow) -> list[int]:
        return self.by_key.get((row.amount, name_key(row.payer)), [])


def _bank_payments(shop_id: int, statuses, amounts=None):
    qs = Payment.objects.filter(shop_id=shop_id, method=Method.BANK_TRANSFER, status__in=statuses)
    if amounts is not None:
        qs = qs.filter(amount__in=amounts)
    return qs.order_by("pk").values_list("pk", "amount", "payer_kana", "payer_name", "status")


def process_statement(statement: BankStatementImport, *, by: Actor) -> BankStatementImport:
    """Match the rows not processed yet and book the matches, chunk by chunk. Safe to run again (resumes)."""
    by.require(statement.shop_id, Perm.MARK_PAID)
    pending = list(statement.rows.filter(outcome=RowOutcome.PENDING).order_by("line")
                   .values_list("pk", "line", "amount", "payer", "transfer_date"))
    rows = {line: (pk, day) for pk, line, _amount, _payer, day in pending}
    already = _booked_before(statement, [line for _pk, line, *_rest in pending])
    todo = [StatementRow(line, amount, payer) for _pk, line, amount, payer, _day in pending if line not in already]
    awaiting = _bank_payments(statement.shop_id, [Status.AWAITING_PAYMENT])
    open_transfers = [OpenTransfer(pk, amount, kana or name) for pk, amount, kana, name, _status in awaiting]
    matches = match_rows(todo, open_transfers)
    # Rows left over may be for a cancelled payment or one already received: those of their amounts, once.
    left = {m.row.amount for m in matches if m.payment_id is None}
    closed = list(_bank_payments(statement.shop_id, [Status.CANCELLED, Status.PAID], left)) if left else []
    cancelled, paid = _Index.of(closed, Status.CANCELLED), _Index.of(closed, Status.PAID)

    for line, op in already.items():
        _save([_booked_row(rows[line][0], op)])
    for start in range(0, len(matches), CHUNK):
        chunk = matches[start:start + CHUNK]
        payments = Payment.objects.select_related("shop").in_bulk(
            [m.payment_id for m in chunk if m.payment_id is not None])
        _save([_outcome(statement, rows[m.row.line], m, payments, cancelled, paid, by) for m in chunk])
    statement.processed_at = timezone.now()
    statement.save(update_fields=["processed_at"])
    return refresh_counts(statement)


def _booked_before(statement: BankStatementImport, lines: list[int]) -> dict[int, PaymentOperation]:
    """Rows whose booking already ran (a crash before the row was saved): never matched again."""
    found: dict[int, PaymentOperation] = {}
    for start in range(0, len(lines), CHUNK):
        keys = {row_key(statement.pk, line): line for line in lines[start:start + CHUNK]}
        for op in PaymentOperation.objects.filter(idempotency_key__in=keys).select_related("payment__shop"):
            found[keys[op.idempotency_key]] = op
    return found


def _booked_row(pk: int, op: PaymentOperation) -> BankStatementRow:
    if op.state != OperationState.SUCCEEDED:
        sync_bank_transfer(op.payment, actor=Actor.system("bank statement import"))  # settles a crashed step
        op.refresh_from_db()
    if op.state == OperationState.SUCCEEDED:
        return BankStatementRow(pk=pk, outcome=RowOutcome.MATCHED, payment_id=op.payment_id,
                                candidates=[op.payment_id], note="")
    return BankStatementRow(pk=pk, outcome=RowOutcome.NO_MATCH, payment_id=None, candidates=[op.payment_id],
                            note=_("Booking this row is not settled yet; run a status check on the payment."))


def _outcome(statement, row: tuple[int, object], match: Match, payments: dict[int, Payment], cancelled: _Index,
             paid: _Index, by: Actor) -> BankStatementRow:
    pk, day = row
    result = BankStatementRow(pk=pk, outcome=RowOutcome.NO_MATCH, payment_id=None, candidates=[], note=_(
        "No payment awaiting transfer has this amount and payer name: assign it, or record what was done."))
    if match.payment_id is not None:
        payment = payments[match.payment_id]
        try:
            _book(statement, match.row, day, payment, by)
        except PaymentError as exc:  # moved meanwhile (another import, a cancel): left for a person
            payment.refresh_from_db()
            result.candidates = [payment.pk]
            result.note = exc.message
            if payment.status == Status.PAID:
                result.outcome = RowOutcome.ALREADY_PAID
            elif payment.status == Status.CANCELLED:
                result.outcome = RowOutcome.FOR_CANCELLED
            return result
        result.outcome, result.payment_id, result.candidates = RowOutcome.MATCHED, payment.pk, [payment.pk]
    elif match.candidates:
        result.outcome, result.candidates = RowOutcome.AMBIGUOUS, list(match.candidates)
        result.note = _("%(count)s payments awaiting transfer have this amount and name: choose one.") % {
            "count": len(match.candidates)}
    elif found := cancelled.get(match.row):
        result.outcome, result.candidates = RowOutcome.FOR_CANCELLED, found
        result.note = _("This transfer matches a cancelled payment: it is not booked. Return %(amount)s to the "
                        "payer by hand (or assign it), then mark the row handled.") % {"amount": yen(match.row.amount)}
    elif found := paid.get(match.row):
        result.outcome, result.candidates = RowOutcome.ALREADY_PAID, found
        result.note = _("A payment with this amount and name was already received: the same transfer in another "
                        "statement, or a second transfer. Check before assigning it.")
    return result


def _book(statement: BankStatementImport, row: StatementRow, day: date, payment: Payment, by: Actor) -> None:
    def book():
        mark_transfer_received(payment, by=by, amount=row.amount, idempotency_key=row_key(statement.pk, row.line),
                               received_at=received_at(day), note=_("bank statement %(file)s, line %(line)s") % {
                                   "file": statement.file_name, "line": row.line})

    try:
        book()
    except ChangedMeanwhile:  # read at the chunk's start; the plan checks the fresh state again
        payment.refresh_from_db()
        book()


def _save(rows: list[BankStatementRow]) -> None:
    BankStatementRow.objects.bulk_update(rows, ROW_FIELDS, batch_size=CHUNK)


def refresh_counts(statement: BankStatementImport) -> BankStatementImport:
    counts = dict(statement.rows.order_by().values_list("outcome").annotate(n=Count("id")))
    BankStatementImport.objects.filter(pk=statement.pk).update(counts=counts)
    statement.counts = counts
    return statement


# --- by hand ----------------------------------------------------------------------------------------------

def _lock_row(row: BankStatementRow, by: Actor) -> BankStatementRow:
    locked = BankStatementRow.objects.select_for_update().select_related("statement").get(pk=row.pk)
    by.require(locked.statement.shop_id, Perm.MARK_PAID)
    if locked.outcome not in TO_HANDLE:
        raise InvalidTransition(_("Line %(line)s was already handled: %(outcome)s.") % {
            "line": locked.line, "outcome": locked.get_outcome_display()})
    return locked


def assignable_payment(statement: BankStatementImport, payment_id) -> Payment:
    """The shop's bank transfer payment awaiting its transfer, or a clear refusal."""
    payment = Payment.objects.select_related("shop").filter(
        pk=payment_id, shop_id=statement.shop_id, method=Method.BANK_TRANSFER).first() if str(
        payment_id).isdigit() else None
    if payment is None:
        raise InvalidTransition(_("That is not a bank transfer payment of this shop: the row can only be assigned "
                                  "to one of %(shop)s's payments awaiting transfer.") % {"shop": statement.shop})
    if payment.status != Status.AWAITING_PAYMENT:
        raise InvalidTransition(_("Payment %(order)s is “%(status)s”: only a payment awaiting its transfer can take "
                                  "this transfer.") % {"order": payment.gateway_order_id,
                                                       "status": payment.get_status_display()})
    return payment


def assign_row(row: BankStatementRow, *, payment_id, by: Actor, note: str = "") -> BankStatementRow:
    """Book the row's transfer as `payment_id`'s (marked paid). Refused, with nothing changed, for a payment of
    another shop, one not awaiting transfer, or another amount."""
    with transaction.atomic():
        locked = _lock_row(row, by)
        statement = locked.statement
        payment = assignable_payment(statement, payment_id)
        text = _("bank statement %(file)s, line %(line)s, assigned by hand") % {
            "file": statement.file_name, "line": locked.line}
        mark_transfer_received(payment, by=by, amount=locked.amount, idempotency_key=row_key(statement.pk, locked.line),
                               received_at=received_at(locked.transfer_date), note=f"{text}: {note}" if note else text)
        _handled(locked, by, RowOutcome.ASSIGNED, note or locked.note, payment)
    refresh_counts(statement)
    return locked


def ignore_row(row: BankStatementRow, *, by: Actor, note: str = "") -> BankStatementRow:
    """Record that the row was dealt with by hand (returned to the payer, not ours...): nothing is booked."""
    with transaction.atomic():
        locked = _lock_row(row, by)
        _handled(locked, by, RowOutcome.IGNORED, note.strip() or locked.note, locked.payment)
    refresh_counts(locked.statement)
    return locked


def _handled(row: BankStatementRow, by: Actor, outcome: str, note: str, payment) -> None:
    row.outcome, row.note, row.payment = outcome, note, payment
    row.handled_by_id, row.handled_by_label, row.handled_at = by.user_id, by.label, timezone.now()
    row.save(update_fields=["outcome", "note", "payment", "handled_by", "handled_by_label", "handled_at"])


# --- reads for the result page --------------------------------------------------------------------------

def open_transfers_by_amount(statement: BankStatementImport, amounts: Iterable[int], limit: int = 2000
                             ) -> dict[int, list[Payment]]:
    """The shop's payments awaiting transfer for these amounts (one query), to choose from when assigning."""
    found: dict[int, list[Payment]] = {}
    qs = Payment.objects.filter(shop_id=statement.shop_id, method=Method.BANK_TRANSFER,
                                status=Status.AWAITING_PAYMENT, amount__in=set(amounts))
    for payment in qs.order_by("created_at", "pk").only(
            "pk", "amount", "gateway_order_id", "reference", "payer_name", "payer_kana", "method", "status")[:limit]:
        found.setdefault(payment.amount, []).append(payment)
    return found


def find_by_reference(statement: BankStatementImport, text: str) -> list[Payment]:
    """Payments of the shop whose reference or order id is `text` (any status: the page says why one can't)."""
    text = text.strip()
    if not text:
        return []
    return list(Payment.objects.filter(shop_id=statement.shop_id, method=Method.BANK_TRANSFER)
                .filter(Q(reference=text) | Q(gateway_order_id=text))[:20])
