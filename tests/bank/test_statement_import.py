"""銀行入金明細の取込 through the service: kana variants matched, ambiguity and cancelled payments left to a person,
malformed rows reported, nothing ever booked twice, and the open transfers read once per import."""

from datetime import datetime, time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments import bank_statement, services
from payments.actors import Actor
from payments.bank_statement import DuplicateStatement, assign_row, ignore_row, import_statement, process_statement
from payments.bank_statement_models import BankStatementImport, BankStatementRow, RowOutcome
from payments.card_rules import JST
from payments.errors import InvalidAmount, InvalidTransition, NotPermitted
from payments.models import OperationKind, Payment, PaymentOperation, Status
from refunds.models import RefundTask
from tests.bank.helpers import SYSTEM, bank_payment, statement
from tests.factories import member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def run(shop, user, *lines, name="statement.csv", **kwargs):
    return import_statement(shop, file_name=name, data=statement(*lines, **kwargs), by=Actor.for_user(user))


def row(imported, line) -> BankStatementRow:
    return imported.rows.get(line=line)


def status(payment) -> str:
    return Payment.objects.get(pk=payment.pk).status


def bookings(payment) -> int:
    return PaymentOperation.objects.filter(payment=payment, kind=OperationKind.MARK_PAID).count()


@pytest.mark.parametrize("kana, printed", [
    ("ヤマダ タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),        # full-width with a space vs half-width
    ("ヤマダ　タロウ", "ﾔﾏﾀﾞﾀﾛｳ"),        # ideographic space vs none
    ("キッド ジョウ", "ｷﾂﾄﾞ ｼﾞﾖｳ"),       # small kana typed, printed large
    ("やまだ たろう", "ﾔﾏﾀﾞ ﾀﾛｳ"),        # hiragana typed
    ("ＡＢＣ　ショウジ", "ABC ｼﾖｳｼﾞ"),    # full-width letters
    ("コーヒー ハナコ", "ｺ-ﾋ- ﾊﾅｺ"),      # long vowel printed as a hyphen
])
def test_kana_variants_are_matched_and_marked_paid(shop, staff, kana, printed):
    payment = bank_payment(shop, amount=5000, kana=kana)
    imported = run(shop, staff, f"2026/03/10,5000,{printed}")
    matched = row(imported, 2)
    assert matched.outcome == RowOutcome.MATCHED and matched.payment_id == payment.pk
    payment.refresh_from_db()
    assert payment.status == Status.PAID and payment.captured_amount == 5000
    assert payment.captured_at == datetime(2026, 3, 10, tzinfo=JST)  # when the money arrived
    op = payment.operations.get(kind=OperationKind.MARK_PAID)
    assert op.actor_id == staff.pk and op.idempotency_key == bank_statement.row_key(imported.pk, 2)
    assert "statement.csv" in op.explanation and "line 2" in op.explanation
    assert imported.counts == {"matched": 1} and imported.uploaded_by_id == staff.pk


def test_a_name_alone_or_an_amount_alone_is_not_a_match(shop, staff):
    payment = bank_payment(shop, amount=5000, kana="ヤマダ タロウ")
    imported = run(shop, staff, "2026/03/10,4999,ﾔﾏﾀﾞ ﾀﾛｳ", "2026/03/10,5000,ﾔﾏﾀﾞ ｼﾞﾛｳ")
    assert [r.outcome for r in imported.rows.order_by("line")] == [RowOutcome.NO_MATCH, RowOutcome.NO_MATCH]
    assert status(payment) == Status.AWAITING_PAYMENT


def test_two_open_payments_with_the_same_amount_and_name_are_left_for_a_person(shop, staff):
    first = bank_payment(shop, amount=3000, kana="サトウ ハナコ", reference="REG-1")
    second = bank_payment(shop, amount=3000, kana="サトウ ハナコ", reference="REG-2")
    imported = run(shop, staff, "2026/03/10,3000,ｻﾄｳ ﾊﾅｺ")
    ambiguous = row(imported, 2)
    assert ambiguous.outcome == RowOutcome.AMBIGUOUS and ambiguous.payment is None
    assert sorted(ambiguous.candidates) == sorted([first.pk, second.pk])
    assert "choose one" in ambiguous.note
    assert status(first) == status(second) == Status.AWAITING_PAYMENT

    assign_row(ambiguous, payment_id=second.pk, by=Actor.for_user(staff), note="申込番号で確認")
    ambiguous.refresh_from_db()
    assert ambiguous.outcome == RowOutcome.ASSIGNED and ambiguous.payment_id == second.pk
    assert ambiguous.handled_by_id == staff.pk and ambiguous.handled_at is not None
    assert (status(first), status(second)) == (Status.AWAITING_PAYMENT, Status.PAID)
    assert "申込番号で確認" in second.operations.get(kind=OperationKind.MARK_PAID).explanation
    assert BankStatementImport.objects.get(pk=imported.pk).counts == {"assigned": 1}


def test_a_transfer_for_a_cancelled_payment_is_not_booked(shop, staff, operator):
    cancelled = bank_payment(shop, amount=5000, kana="タナカ イチロウ")
    services.cancel_payment(cancelled, by=Actor.for_user(operator))
    imported = run(shop, staff, "2026/03/10,5000,ﾀﾅｶ ｲﾁﾛｳ")
    left = row(imported, 2)
    assert left.outcome == RowOutcome.FOR_CANCELLED and left.candidates == [cancelled.pk]
    assert left.payment is None and "cancelled payment" in left.note and "¥5,000" in left.note
    assert status(cancelled) == Status.CANCELLED and bookings(cancelled) == 0
    assert not RefundTask.objects.exists()

    ignore_row(left, by=Actor.for_user(staff), note="返金済み 3/12")
    left.refresh_from_db()
    assert left.outcome == RowOutcome.IGNORED and left.note == "返金済み 3/12"
    assert status(cancelled) == Status.CANCELLED and bookings(cancelled) == 0
    with pytest.raises(InvalidTransition):
        assign_row(left, payment_id=cancelled.pk, by=Actor.for_user(staff))


def test_an_open_payment_wins_over_a_cancelled_one_of_the_same_name(shop, staff, operator):
    cancelled = bank_payment(shop, amount=5000, kana="タナカ イチロウ", reference="OLD")
    services.cancel_payment(cancelled, by=Actor.for_user(operator))
    again = bank_payment(shop, amount=5000, kana="タナカ イチロウ", reference="NEW")
    imported = run(shop, staff, "2026/03/10,5000,ﾀﾅｶ ｲﾁﾛｳ")
    assert row(imported, 2).payment_id == again.pk and status(again) == Status.PAID


def test_the_same_transfer_in_an_overlapping_statement_is_flagged_not_booked_again(shop, staff):
    payment = bank_payment(shop, amount=5000)
    run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ", name="march-1.csv")
    later = run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ", "2026/03/11,1000,ﾍﾞﾂ", name="march-2.csv")
    again = row(later, 2)
    assert again.outcome == RowOutcome.ALREADY_PAID and again.candidates == [payment.pk]
    assert bookings(payment) == 1


def test_malformed_rows_are_reported_while_good_rows_are_booked(shop, staff):
    good = bank_payment(shop, amount=5000)
    imported = run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ", "not a date,5000,ﾔﾏﾀﾞ ﾀﾛｳ", "2026/03/10,-5000,ﾔﾏﾀﾞ")
    assert status(good) == Status.PAID
    bad = {r.line: r for r in imported.rows.filter(outcome=RowOutcome.MALFORMED)}
    assert sorted(bad) == [3, 4]
    assert "not a date" in bad[3].note and bad[3].raw == "not a date,5000,ﾔﾏﾀﾞ ﾀﾛｳ"
    assert "negative" in bad[4].note
    assert imported.counts == {"matched": 1, "malformed": 2}


def test_the_same_file_again_is_recognised_and_books_nothing(shop, staff):
    payment = bank_payment(shop, amount=5000)
    first = run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    with pytest.raises(DuplicateStatement) as again:
        run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ", name="renamed.csv")
    assert again.value.existing.pk == first.pk
    assert BankStatementImport.objects.count() == 1 and bookings(payment) == 1


def test_processing_again_after_a_crash_never_books_a_row_twice(shop, staff):
    booked = bank_payment(shop, amount=5000, reference="REG-1")
    imported = run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    # The second payment of that payer/amount appears; the row's save was lost after its booking (a crash).
    twin = bank_payment(shop, amount=5000, reference="REG-2")
    BankStatementRow.objects.filter(statement=imported, line=2).update(outcome=RowOutcome.PENDING, payment=None)
    process_statement(imported, by=Actor.for_user(staff))
    assert row(imported, 2).outcome == RowOutcome.MATCHED and row(imported, 2).payment_id == booked.pk
    assert bookings(booked) == 1 and status(twin) == Status.AWAITING_PAYMENT
    # And a run with nothing pending left changes nothing.
    process_statement(imported, by=Actor.for_user(staff))
    assert bookings(booked) == 1 and bookings(twin) == 0


def test_importing_needs_the_mark_paid_permission(shop, other_shop):
    for user in (member(shop, "viewer"), member(other_shop, "admin")):
        with pytest.raises(NotPermitted):
            run(shop, user, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    assert not BankStatementImport.objects.exists()


def test_open_transfers_are_read_once_whatever_the_number_of_rows(shop, staff):
    for n in range(5):
        bank_payment(shop, amount=1000 + n, kana="ダレカ", reference=f"R{n}")

    def queries(rows: int) -> int:
        lines = [f"2026/03/10,{2000 + i},ﾍﾞﾂｼﾞﾝ {i}" for i in range(rows)]
        with CaptureQueriesContext(connection) as ctx:
            run(shop, staff, *lines, name=f"{rows}.csv")
        return len(ctx)

    queries(1)  # the user's permissions are read once, then cached on the user
    assert queries(10) == queries(300)


# --- assigning by hand: refusals change nothing ------------------------------------------------------------

@pytest.fixture
def unmatched(shop, staff):
    imported = run(shop, staff, "2026/03/10,5000,ﾌﾒｲ")
    return row(imported, 2)


def test_assigning_to_another_shops_payment_is_refused(unmatched, other_shop, staff):
    foreign = bank_payment(other_shop, amount=5000)
    with pytest.raises(InvalidTransition) as refused:
        assign_row(unmatched, payment_id=foreign.pk, by=Actor.for_user(staff))
    assert "not a bank transfer payment of this shop" in refused.value.message
    unmatched.refresh_from_db()
    assert unmatched.outcome == RowOutcome.NO_MATCH and status(foreign) == Status.AWAITING_PAYMENT
    assert not PaymentOperation.objects.exists()


def test_assigning_to_a_payment_not_awaiting_is_refused(unmatched, shop, staff, operator):
    done = bank_payment(shop, amount=5000)
    services.cancel_payment(done, by=Actor.for_user(operator))
    card = services.create_card_payment(shop, amount=5000, actor=SYSTEM)
    for payment in (done, card):
        with pytest.raises(InvalidTransition):
            assign_row(unmatched, payment_id=payment.pk, by=Actor.for_user(staff))
    unmatched.refresh_from_db()
    assert unmatched.outcome == RowOutcome.NO_MATCH and bookings(done) == 0


def test_assigning_to_a_payment_of_another_amount_is_refused(unmatched, shop, staff):
    other = bank_payment(shop, amount=6000)
    with pytest.raises(InvalidAmount):
        assign_row(unmatched, payment_id=other.pk, by=Actor.for_user(staff))
    unmatched.refresh_from_db()
    assert unmatched.outcome == RowOutcome.NO_MATCH and status(other) == Status.AWAITING_PAYMENT
    assert not PaymentOperation.objects.exists()


def test_assigning_needs_the_permission_in_the_rows_shop(unmatched, shop, other_shop):
    payment = bank_payment(shop, amount=5000)
    for user in (member(shop, "viewer"), member(other_shop, "admin")):
        with pytest.raises(NotPermitted):
            assign_row(unmatched, payment_id=payment.pk, by=Actor.for_user(user))
    assert status(payment) == Status.AWAITING_PAYMENT


def test_a_row_is_assigned_once(unmatched, shop, staff):
    first = bank_payment(shop, amount=5000, reference="A")
    second = bank_payment(shop, amount=5000, reference="B")
    assign_row(unmatched, payment_id=first.pk, by=Actor.for_user(staff))
    with pytest.raises(InvalidTransition):
        assign_row(unmatched, payment_id=second.pk, by=Actor.for_user(staff))
    assert (status(first), status(second)) == (Status.PAID, Status.AWAITING_PAYMENT)


def test_received_at_is_the_transfer_day_in_tokyo(shop, staff):
    payment = bank_payment(shop, amount=5000)
    run(shop, staff, "2026/01/05,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    payment.refresh_from_db()
    assert payment.captured_at.astimezone(JST).date().isoformat() == "2026-01-05"
    assert payment.captured_at.astimezone(JST).time() == time()


# --- a payment that moves while the statement is processed ----------------------------------------------------

def after_matching(monkeypatch, what):
    real = bank_statement.match_rows

    def match_then_act(rows, open_transfers):
        found = real(rows, open_transfers)
        what()
        return found

    monkeypatch.setattr(bank_statement, "match_rows", match_then_act)


def test_payment_cancelled_meanwhile_is_not_booked(shop, staff, operator, monkeypatch):
    payment = bank_payment(shop, amount=5000)
    after_matching(monkeypatch, lambda: services.cancel_payment(Payment.objects.get(pk=payment.pk),
                                                                by=Actor.for_user(operator)))
    imported = run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    left = row(imported, 2)
    assert left.outcome == RowOutcome.FOR_CANCELLED and left.candidates == [payment.pk] and left.note
    assert status(payment) == Status.CANCELLED and bookings(payment) == 0


def test_payment_touched_meanwhile_is_read_again_and_booked(shop, staff, monkeypatch):
    from django.db.models import F

    payment = bank_payment(shop, amount=5000)
    real, calls = bank_statement.mark_transfer_received, []

    def touched_first(target, **kwargs):
        if not calls:  # someone else's step lands between reading the chunk and booking it
            Payment.objects.filter(pk=target.pk).update(version=F("version") + 1)
        calls.append(target.version)
        return real(target, **kwargs)

    monkeypatch.setattr(bank_statement, "mark_transfer_received", touched_first)
    imported = run(shop, staff, "2026/03/10,5000,ﾔﾏﾀﾞ ﾀﾛｳ")
    assert len(calls) == 2 and calls[1] == calls[0] + 1
    assert row(imported, 2).outcome == RowOutcome.MATCHED and status(payment) == Status.PAID
    assert bookings(payment) == 1
